"""The project's demo dataset (data/demo), registered on every fresh workspace.

Its SQLite files are copied into `<workspace>/databases/demo/` so the workspace stands
alone; the questions become `demo_train` and `demo_test` (DDL schema, SQLite dialect).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from studio.project import DATA_DIR

if TYPE_CHECKING:
    from studio.data.registry import DatasetInfo
    from studio.workspace import Workspace

DEMO_DIR = DATA_DIR / "demo"
DEMO_SPLITS = ("train", "test")
DEMO_STYLE = "ddl"


def open_workspace(path: str | Path | None = None) -> Workspace:
    """Open (creating on first use) the workspace at `path` or the default location, with the
    demo datasets registered when it is new: how the CLI and the studio open a workspace."""
    from studio.workspace import Workspace

    ws = Workspace.open(path)
    register_demo_on_fresh_workspace(ws)
    return ws


def register_demo_on_fresh_workspace(ws: Workspace) -> None:
    """Register the demo datasets when the workspace has no dataset_info.json yet (cheap otherwise).

    Safe when several processes open a new workspace at once: the first one registers
    under the "dataset_info" lock, the others find the registry there and do nothing.
    Demo files already in datasets/ (a registry deleted by hand) are left as they are.
    """
    if ws.dataset_info_path.exists():
        return
    from studio.data.registry import LOCK_NAME

    with ws.lock(LOCK_NAME):
        if not ws.dataset_info_path.exists() and not _demo_files_in_the_way(ws):
            _register_demo(ws)


def _demo_files_in_the_way(ws: Workspace) -> bool:
    """True when a demo dataset file exists without a registry (left from an earlier one):
    it is never overwritten, so the demo is not registered."""
    return any((ws.datasets_dir / f"demo_{split}.json").exists() for split in DEMO_SPLITS)


def _register_demo(ws: Workspace) -> list[DatasetInfo]:
    """Copy the demo databases into the workspace and register demo_train and demo_test (lock
    held)."""
    from studio.data.importers.common import introspect_all, text
    from studio.data.registry import DatasetMeta, NewDataset, register_datasets_unlocked
    from studio.data.sft_rows import SourceRecord, build_sft_rows
    from studio.errors import StudioError

    questions_path = DEMO_DIR / "questions.json"
    if not questions_path.is_file():
        raise StudioError(
            f"the demo questions are missing at {questions_path}; "
            "restore data/demo from the repository"
        )
    questions = json.loads(questions_path.read_text(encoding="utf-8"))
    refs = {
        db_id: str(_copy_database(ws, db_id)) for db_id in sorted({q["db_id"] for q in questions})
    }
    schemas = introspect_all(refs, sample_values=3, progress=False)
    datasets = []
    for split in DEMO_SPLITS:
        records = [
            SourceRecord(
                question_id=q["question_id"],
                db_id=q["db_id"],
                question=q["question"],
                sql=q["sql"],
                evidence=text(q.get("evidence")),
                difficulty=q.get("difficulty"),
            )
            for q in questions
            if q["split"] == split
        ]
        rows = build_sft_rows(records, schemas, "sqlite", DEMO_STYLE).rows
        meta = DatasetMeta(
            dialect="sqlite",
            databases={r.db_id: refs[r.db_id] for r in records},
            schema_style=DEMO_STYLE,
            source_format="demo",
            source_path=str(questions_path),
        )
        datasets.append(NewDataset(f"demo_{split}", rows, "sft", meta))
    return register_datasets_unlocked(ws, datasets)


def _copy_database(ws: Workspace, db_id: str) -> Path:
    from studio.errors import StudioError

    source = DEMO_DIR / "databases" / f"{db_id}.sqlite"
    if not source.is_file():
        raise StudioError(
            f"the demo database {source} is missing; rebuild it with `python data/build_demo.py`"
        )
    target = ws.root / "databases" / "demo" / source.name
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    shutil.copyfile(source, partial)
    partial.replace(target)
    return target
