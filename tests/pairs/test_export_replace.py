"""`pairs export` never replaces a dataset unasked: an existing name (even an SFT dataset) is
refused without --replace and the workspace stays byte-identical; with it the dataset and its
companion files are replaced; a name whose files belong to another dataset is refused."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from studio.data.registry import get_dataset, register_dataset, unregister_dataset
from studio.errors import StudioError
from studio.pairs.curate import PairFilter, bulk_set_status
from studio.pairs.export import export_pairs
from studio.workspace import Workspace

Checksums = Callable[[Path], dict[str, str]]


def test_export_over_an_existing_dataset_needs_replace(
    mined: tuple[Workspace, Path], studio_cli: Callable[..., object], checksums: Checksums
) -> None:
    ws, _ = mined
    bulk_set_status(ws, PairFilter(), "accepted")
    train = get_dataset(ws, "demo_train")
    before = checksums(ws.root)
    done = studio_cli(ws, "pairs", "export", "--name", "demo_train", check=False)
    assert done.returncode == 2
    assert (
        f"dataset 'demo_train' already exists (sft, {train.rows} rows, imported from "
        f"{train.meta.source_path}); replace it with --replace"
    ) in done.stderr
    assert checksums(ws.root) == before

    done = studio_cli(ws, "pairs", "export", "--name", "demo_train", "--replace")
    summary = json.loads(done.stdout)
    replaced = get_dataset(ws, "demo_train")
    assert replaced.kind == "preference" and replaced.rows == summary["rows"] > 0
    assert json.loads((ws.datasets_dir / "demo_train.summary.json").read_text()) == summary
    trl = (ws.datasets_dir / "demo_train.trl.jsonl").read_text().splitlines()
    assert len(trl) == summary["rows"]

    # the second export replaces the files of the first; unregistering removes all three
    studio_cli(ws, "pairs", "export", "--name", "demo_train", "--replace", "--strategy", "gold")
    unregister_dataset(ws, "demo_train")
    assert not list(ws.datasets_dir.glob("demo_train.*"))


def test_an_export_never_takes_the_files_of_another_dataset(
    mined: tuple[Workspace, Path], checksums: Checksums
) -> None:
    ws, _ = mined
    bulk_set_status(ws, PairFilter(), "accepted")
    rows = [{"instruction": "How many?", "input": "", "system": "", "output": "SELECT 1"}]
    register_dataset(ws, "mine.summary", rows, "sft")
    before = checksums(ws.root)
    for replace in (False, True):
        taken = (
            "datasets/mine.summary.json is a file of dataset 'mine.summary'; "
            "choose another name for 'mine'"
        )
        with pytest.raises(StudioError, match=taken):
            export_pairs(ws, "mine", replace=replace)
    assert checksums(ws.root) == before

    export_pairs(ws, "pairs")
    taken = "datasets/pairs.summary.json is a file of dataset 'pairs'"
    with pytest.raises(StudioError, match=taken):
        register_dataset(ws, "pairs.summary", rows, "sft", replace=True)
