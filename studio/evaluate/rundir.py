"""An evaluation run folder: created or continued, with its config.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.errors import StudioError
from studio.fsutil import atomic_write_json
from studio.jobs.kinds import EVAL
from studio.jobs.rundir import RunDir

if TYPE_CHECKING:
    from studio.workspace import Workspace

# settings that must match to continue a run; the rest (limit, batch size, ...) may change
IDENTITY_KEYS = ("mode", "dataset", "model", "adapters", "merge_adapters")


def read_run_config(run_dir: Path) -> dict[str, Any] | None:
    """The folder's config.json, None when absent; a StudioError when it does not parse."""
    path = RunDir(run_dir).settings_config
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except json.JSONDecodeError as error:
        raise StudioError(
            f"{path}: not valid JSON ({error.msg} at line {error.lineno}); "
            "fix it or use another --out folder"
        ) from None
    if not isinstance(data, dict):
        raise StudioError(f"{path}: expected a JSON object of evaluation settings")
    return data


def prepare_run_dir(ws: Workspace, out_dir: str | Path | None, settings: dict[str, Any]) -> Path:
    """A new `runs/eval-*` folder, or `out_dir` (created when absent), with config.json written
    (the workspace recorded in it, since `out_dir` may lie outside the workspace).

    An `out_dir` that already holds a run of another mode, dataset, model or adapters is an
    error (continuing it would mix predictions).
    """
    run_dir = (
        ws.new_run_dir(EVAL.name, str(settings.get("dataset") or ""))
        if out_dir is None
        else Path(out_dir).expanduser().resolve()
    )
    if run_dir.exists() and not run_dir.is_dir():
        raise StudioError(f"--out {run_dir} is a file; name a folder for the evaluation run")
    run_dir.mkdir(parents=True, exist_ok=True)
    previous = read_run_config(run_dir)
    if previous is not None:
        differing = [key for key in IDENTITY_KEYS if previous.get(key) != settings.get(key)]
        if differing:
            changes = "; ".join(
                f"{key}: {previous.get(key)!r} there, {settings.get(key)!r} now"
                for key in differing
            )
            raise StudioError(
                f"{run_dir} holds another evaluation ({changes}); continue it with the same "
                "settings or choose a new --out folder"
            )
    atomic_write_json(RunDir(run_dir).settings_config, {**settings, "workspace": str(ws.root)})
    return run_dir
