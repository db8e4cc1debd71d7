"""Spider-style `tables.json` (also BIRD's `*_tables.json`) as Schema objects.

Each entry has db_id, table_names_original, column_names_original ([table_index, name]),
column_types, primary_keys (column indexes; a nested list is a composite key) and
foreign_keys ([column_index, referenced_column_index]).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.data.rowfiles import read_json
from studio.errors import StudioError
from studio.sql.schema import Column, ForeignKey, Schema, Table


def read_tables_json(path: Path, dialect: str) -> dict[str, Schema]:
    """db_id -> Schema for every database described in `path`."""
    entries = read_json(
        path, list, "expected a JSON array of databases (Spider's tables.json format)"
    )
    schemas = {}
    for position, entry in enumerate(entries):
        try:
            schemas[entry["db_id"]] = _schema(entry, dialect)
        except (KeyError, IndexError, TypeError) as error:
            raise StudioError(
                f"{path}: entry {position} is not a Spider tables.json entry "
                f"(problem at {error!r}); it needs db_id, table_names_original, "
                "column_names_original, column_types, primary_keys and foreign_keys"
            ) from None
    return schemas


def _schema(entry: dict[str, Any], dialect: str) -> Schema:
    table_names = entry["table_names_original"]
    tables = [Table(name=name, columns=[]) for name in table_names]
    # column index -> (table, column); index 0 is Spider's "*" placeholder
    located: dict[int, tuple[Table, Column]] = {}
    types = entry.get("column_types", [])
    for index, (table_index, name) in enumerate(entry["column_names_original"]):
        if table_index < 0:
            continue
        column = Column(name=name, type=str(types[index]).upper() if index < len(types) else "")
        tables[table_index].columns.append(column)
        located[index] = (tables[table_index], column)
    for key in entry.get("primary_keys", []):
        for index in key if isinstance(key, list) else [key]:
            located[index][1].primary_key = True
    for source_index, target_index in entry.get("foreign_keys", []):
        table, column = located[source_index]
        ref_table, ref_column = located[target_index]
        table.foreign_keys.append(ForeignKey([column.name], ref_table.name, [ref_column.name]))
    return Schema(database=entry["db_id"], dialect=dialect, tables=tables)
