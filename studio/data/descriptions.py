"""BIRD column descriptions: `<db_folder>/database_description/<table>.csv`.

Columns: original_column_name, column_name, column_description, data_format,
value_description. Real files start with a UTF-8 BOM, are not UTF-8 at all (cp1252),
or carry blank and ragged rows; all of these are read.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from studio.sql.schema import Schema

ENCODINGS = ("utf-8-sig", "cp1252")
FIELDS = (
    "original_column_name",
    "column_name",
    "column_description",
    "data_format",
    "value_description",
)


@dataclass(frozen=True)
class ColumnDescription:
    description: str | None
    value_description: str | None


# table name (lowercase) -> column name (lowercase) -> description
Descriptions = dict[str, dict[str, ColumnDescription]]


def decode_text(data: bytes) -> str:
    """Bytes as text: UTF-8 (BOM dropped), else cp1252, else latin-1 (which never fails)."""
    for encoding in ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def read_description_csv(path: Path) -> dict[str, ColumnDescription]:
    """Column name (lowercase) -> description, from one BIRD description CSV."""
    rows = list(csv.reader(io.StringIO(decode_text(path.read_bytes()), newline="")))
    if not rows:
        return {}
    header = [cell.strip().lower() for cell in rows[0]]
    positions = {name: header.index(name) for name in FIELDS if name in header}
    if "original_column_name" not in positions:
        positions = {name: index for index, name in enumerate(FIELDS)}
        body = rows
    else:
        body = rows[1:]
    result = {}
    for row in body:
        cells = {name: _cell(row, index) for name, index in positions.items()}
        column = cells.get("original_column_name")
        if not column:
            continue
        description = cells.get("column_description") or cells.get("column_name")
        result[column.lower()] = ColumnDescription(description, cells.get("value_description"))
    return result


def read_bird_descriptions(db_folder: Path) -> Descriptions:
    """All description CSVs of one BIRD database folder (empty when it has none)."""
    folder = db_folder / "database_description"
    if not folder.is_dir():
        return {}
    return {path.stem.lower(): read_description_csv(path) for path in sorted(folder.glob("*.csv"))}


def apply_descriptions(schema: Schema, descriptions: Descriptions) -> int:
    """Set description/value_description on the schema's columns; returns how many were set."""
    count = 0
    for table in schema.tables:
        by_column = descriptions.get(table.name.lower(), {})
        for column in table.columns:
            found = by_column.get(column.name.lower())
            if found is None:
                continue
            column.description = found.description
            column.value_description = found.value_description
            count += 1
    return count


def _cell(row: list[str], index: int) -> str | None:
    if index >= len(row):
        return None
    text = " ".join(row[index].split())
    return text or None
