"""The key tables of docs/TRAINING.md and docs/INTEROP.md, written from studio/train/keys.py and
studio/train/llamafactory_keys.py between `<!-- NAME:start -->` and `<!-- NAME:end -->` markers.

    python -m studio.train.doc_tables          # rewrite the tables
    python -m studio.train.doc_tables --check  # exit 1 when a checked-in table is out of date
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from studio.errors import StudioError
from studio.project import PROJECT_DIR
from studio.train.keys import KEYS, LLAMAFACTORY, STUDIO, TRL, UNSET, Key
from studio.train.llamafactory_keys import FATES, NOT_NEEDED, NOT_SUPPORTED

DOCS = PROJECT_DIR / "docs"


def _value(value: Any) -> str:
    if value is None or value == ():
        return "none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, tuple):
        return f"`{','.join(value)}`"
    return f"`{value}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _default(key: Key) -> str:
    text = _value(key.default)
    if key.lf_default is not UNSET:
        text += f" (LLaMA-Factory: {_value(key.lf_default)})"
    return text


def training_table() -> str:
    """Every key: default, accepted values and meaning; the studio's own keys and TRL's marked."""
    marks = {STUDIO: " (studio)", TRL: " (TRL)"}
    rows = ["| key | default | accepted | meaning |", "| --- | --- | --- | --- |"]
    for key in KEYS:
        name = f"`{key.name}`" + marks.get(key.origin, "")
        rows.append(f"| {name} | {_default(key)} | {_cell(key.accepts)} | {_cell(key.help)} |")
    return "\n".join(rows)


def honoured_table() -> str:
    """LLaMA-Factory keys the studio honours, with its default when it differs."""
    rows = ["| key | studio default | LLaMA-Factory default |", "| --- | --- | --- |"]
    for key in KEYS:
        if key.origin == LLAMAFACTORY:
            lf = _value(key.lf_default) if key.lf_default is not UNSET else "same"
            rows.append(f"| `{key.name}` | {_value(key.default)} | {lf} |")
    return "\n".join(rows)


def _grouped(fate: str) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = defaultdict(list)
    for name, entry in FATES.items():
        if entry.fate == fate:
            groups[entry.reason].append(name)
    return groups


def not_needed_table() -> str:
    """LLaMA-Factory keys with no job in the studio, grouped by the reason."""
    rows = ["| keys | why not needed |", "| --- | --- |"]
    for reason, names in _grouped(NOT_NEEDED).items():
        rows.append(f"| {', '.join(f'`{n}`' for n in names)} | {_cell(reason)} |")
    return "\n".join(rows)


def not_supported_table() -> str:
    """LLaMA-Factory keys of features the studio lacks, with the values that change nothing."""
    rows = ["| feature not supported | keys (accepted only with this value) |", "| --- | --- |"]
    for reason, names in _grouped(NOT_SUPPORTED).items():
        keys = ", ".join(f"`{n}`: {_value(FATES[n].inert[0])}" for n in names)
        rows.append(f"| {_cell(reason)} | {keys} |")
    return "\n".join(rows)


TABLES = {
    "TRAINING.md": {"keys": training_table},
    "INTEROP.md": {
        "honoured": honoured_table,
        "not-needed": not_needed_table,
        "not-supported": not_supported_table,
    },
}


def render(text: str, tables: dict[str, Any], name: str) -> str:
    """`text` with each marked table replaced by its current rendering."""
    for marker, build in tables.items():
        start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
        if start not in text or end not in text:
            raise StudioError(f"docs/{name}: the markers {start} and {end} are missing")
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        text = f"{head}{start}\n{build()}\n{end}{tail}"
    return text


def stale_docs(docs: Path = DOCS) -> list[str]:
    """The docs whose checked-in tables differ from the key tables."""
    return [
        name
        for name, tables in TABLES.items()
        if render((docs / name).read_text(encoding="utf-8"), tables, name)
        != (docs / name).read_text(encoding="utf-8")
    ]


def main(argv: list[str] | None = None) -> int:
    """Rewrite the tables, or with --check report the stale ones (exit 1)."""
    parser = argparse.ArgumentParser(prog="python -m studio.train.doc_tables")
    parser.add_argument("--check", action="store_true", help="only report out-of-date tables")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_docs()
        for name in stale:
            print(f"docs/{name}: key tables out of date; run python -m studio.train.doc_tables")
        return 1 if stale else 0
    for name, tables in TABLES.items():
        path = DOCS / name
        path.write_text(render(path.read_text(encoding="utf-8"), tables, name), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
