"""Atomic writes leave no temporary file and give the file the mode `open()` would (umask kept)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from studio.fsutil import atomic_write_json, atomic_write_text


@pytest.fixture
def umask() -> Iterator[object]:
    """Set the process umask for one test, putting the old one back afterwards."""
    old = os.umask(0o022)

    def set_mask(mask: int) -> None:
        os.umask(mask)

    try:
        yield set_mask
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_written_files_are_readable_by_others_under_the_usual_umask(tmp_path: Path, umask) -> None:
    umask(0o022)
    atomic_write_text(tmp_path / "a" / "rows.json", "[]\n")
    atomic_write_json(tmp_path / "info.json", {"x": 1})
    assert mode(tmp_path / "a" / "rows.json") == 0o644
    assert mode(tmp_path / "info.json") == 0o644
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a", "info.json", "rows.json"]


def test_a_stricter_umask_is_respected_and_a_rewrite_keeps_the_mode_rule(
    tmp_path: Path, umask
) -> None:
    umask(0o077)
    path = tmp_path / "run.json"
    atomic_write_text(path, "1")
    assert mode(path) == 0o600
    umask(0o022)
    atomic_write_text(path, "2")
    assert mode(path) == 0o644 and path.read_text() == "2"
