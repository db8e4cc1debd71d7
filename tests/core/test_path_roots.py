"""The folders the browser studio may read and write (studio.web.path_roots): real files,
symlinks."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.errors import StudioError
from studio.project import PROJECT_DIR
from studio.train.config import config_from_mapping
from studio.web.path_roots import PathRoots


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    """A workspace, a data folder given with --data-root, and a folder outside both."""
    folders = {name: tmp_path / name for name in ("workspace", "extra", "outside")}
    for folder in folders.values():
        folder.mkdir()
    (folders["outside"] / "secret.json").write_text('{"token": "x"}')
    (folders["workspace"] / "rows.json").write_text("[]")
    return folders


def test_paths_inside_workspace_configs_data_and_data_roots_pass(layout: dict[str, Path]) -> None:
    roots = PathRoots.for_workspace(layout["workspace"], [layout["extra"]])
    rows = layout["workspace"] / "rows.json"
    assert roots.confine(rows, "Path") == rows
    assert roots.confine(layout["extra"] / "new" / "file.yaml", "YAML file").parent.name == "new"
    assert roots.confine(PROJECT_DIR / "configs" / "demo_sft.yaml", "YAML file").is_file()
    assert roots.confine(PROJECT_DIR / "data" / "demo", "Database folder").is_dir()
    assert roots.confine(layout["workspace"], "Path") == layout["workspace"]


def test_a_path_outside_is_refused_naming_the_roots_and_the_flag(layout: dict[str, Path]) -> None:
    roots = PathRoots.for_workspace(layout["workspace"])
    for outside in (
        layout["outside"] / "secret.json",
        "/etc/passwd",
        PROJECT_DIR / "studio" / "cli.py",
        layout["extra"],
    ):
        with pytest.raises(StudioError) as refused:
            roots.confine(outside, "Path")
        message = str(refused.value)
        assert f"Path {outside} is outside" in message
        assert str(layout["workspace"]) in message and str(PROJECT_DIR / "configs") in message
        assert "--data-root DIR" in message


def test_dot_dot_and_symlinks_are_resolved_before_the_check(layout: dict[str, Path]) -> None:
    roots = PathRoots.for_workspace(layout["workspace"])
    escaping = layout["workspace"] / ".." / "outside" / "secret.json"
    with pytest.raises(StudioError, match="is outside"):
        roots.confine(escaping, "Path")
    link = layout["workspace"] / "looks-inside.json"
    link.symlink_to(layout["outside"] / "secret.json")
    with pytest.raises(StudioError, match="is outside"):
        roots.confine(link, "Path")
    folder_link = layout["workspace"] / "linked-folder"
    folder_link.symlink_to(layout["outside"], target_is_directory=True)
    with pytest.raises(StudioError, match="is outside"):
        roots.confine(folder_link / "new.yaml", "YAML file")
    inward = layout["outside"] / "to-rows.json"
    inward.symlink_to(layout["workspace"] / "rows.json")
    assert roots.confine(inward, "Path") == layout["workspace"] / "rows.json"


def test_relative_paths_and_home_are_resolved(
    layout: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    roots = PathRoots.for_workspace(layout["workspace"])
    monkeypatch.chdir(layout["workspace"])
    assert roots.confine("rows.json", "Path") == layout["workspace"] / "rows.json"
    with pytest.raises(StudioError, match="is outside"):
        roots.confine("../outside/secret.json", "Path")
    monkeypatch.setenv("HOME", str(layout["outside"]))
    with pytest.raises(StudioError, match="is outside"):
        roots.confine("~/secret.json", "Path")


def test_a_data_root_must_be_an_existing_folder(layout: dict[str, Path]) -> None:
    with pytest.raises(StudioError, match="--data-root .*missing: not a folder"):
        PathRoots.for_workspace(layout["workspace"], [layout["outside"] / "missing"])
    with pytest.raises(StudioError, match="not a folder"):
        PathRoots.for_workspace(layout["workspace"], [layout["outside"] / "secret.json"])


def test_model_references_built_in_or_inside_pass(layout: dict[str, Path]) -> None:
    roots = PathRoots.for_workspace(layout["workspace"])
    builtin = "builtin:qwen2.5-coder-0.5b-instruct"
    assert roots.confine_model_ref(builtin, "Model") == builtin
    inside = str(layout["workspace"] / "models" / "tiny")
    assert roots.confine_model_ref(inside, "Model") == inside
    with pytest.raises(StudioError, match="Model .*model.gguf is outside"):
        roots.confine_model_ref(str(layout["outside"] / "model.gguf"), "Model")


def test_every_path_a_training_config_names_is_confined(layout: dict[str, Path]) -> None:
    roots = PathRoots.for_workspace(layout["workspace"])
    inside = layout["workspace"] / "runs" / "sft-1" / "adapter"
    base = {"dataset": "demo_train", "adapter_name_or_path": [str(inside)]}
    confined = roots.confine_train_config(config_from_mapping(base))
    assert confined.adapter_name_or_path == [str(inside)]
    outside = str(layout["outside"] / "x")
    for key, value in (
        ("model_name_or_path", outside),
        ("adapter_name_or_path", [outside]),
        ("output_dir", outside),
        ("resume_from_checkpoint", outside),
    ):
        cfg = config_from_mapping({**base, key: value})
        with pytest.raises(StudioError, match=f"config key '{key}': {outside} is outside"):
            roots.confine_train_config(cfg)
