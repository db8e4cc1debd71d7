"""The bounds every query runs under, besides its timeout and row cap.

`STUDIO_SQL_MEMORY_MB`, `STUDIO_SQL_RESULT_MB` and `STUDIO_SQL_CELL_MB` change the defaults
for a whole process tree (the executor reads them when it starts).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from studio.errors import StudioError

MIB = 1024 * 1024
FETCH_BATCH = 256  # rows fetched at once while far from the result bound


def _env_mib(name: str, default_mib: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default_mib * MIB
    try:
        mib = int(value)
    except ValueError as error:
        raise StudioError(f"${name} must be a whole number of MiB, got {value!r}") from error
    if mib <= 0:
        raise StudioError(f"${name} must be a positive number of MiB, got {value!r}")
    return mib * MIB


@dataclass(frozen=True)
class QueryBounds:
    """Memory of the executor process, bytes of one result, bytes of one cell."""

    memory_bytes: int
    result_bytes: int
    cell_bytes: int

    @classmethod
    def from_env(cls) -> QueryBounds:
        return cls(
            memory_bytes=_env_mib("STUDIO_SQL_MEMORY_MB", 2048),
            result_bytes=_env_mib("STUDIO_SQL_RESULT_MB", 256),
            cell_bytes=_env_mib("STUDIO_SQL_CELL_MB", 16),
        )


class ResultTooLarge(Exception):
    """A result or one of its cells passed its byte bound."""


def fetch_bounded(cursor, max_rows: int | None, bounds: QueryBounds) -> tuple[list[tuple], bool]:
    """Rows until `max_rows` (then truncated=True); ResultTooLarge past a byte bound.

    A row costs its text and blob lengths plus 8 bytes for any other value. Rows are
    fetched in batches sized so one batch cannot pass the bound by much.
    """
    rows: list[tuple] = []
    size = largest = 0
    batch_size = 1
    while True:
        batch = cursor.fetchmany(batch_size)
        if not batch:
            return rows, False
        for row in batch:
            if max_rows is not None and len(rows) == max_rows:
                return rows, True
            cost = _row_cost(row, bounds)
            size += cost
            if size > bounds.result_bytes:
                raise ResultTooLarge(
                    f"the result passed {bounds.result_bytes // MIB} MiB after {len(rows):,} rows"
                )
            largest = max(largest, cost)
            rows.append(tuple(row))
        batch_size = max(1, min(FETCH_BATCH, (bounds.result_bytes - size) // (2 * largest + 1)))


def _row_cost(row: tuple, bounds: QueryBounds) -> int:
    cost = 0
    for value in row:
        length = len(value) if isinstance(value, (str, bytes)) else 8
        if length > bounds.cell_bytes:
            raise ResultTooLarge(
                f"a cell holds {length / MIB:.1f} MiB, the bound is {bounds.cell_bytes // MIB} MiB"
            )
        cost += length
    return cost
