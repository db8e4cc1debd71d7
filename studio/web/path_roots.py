"""The folders the browser studio may read and write, and the check every typed path passes.

The studio's page names files in text boxes (import sources, database folders, YAML files,
models, adapters). Each such path must lie, once `~`, `..` and symlinks are resolved, inside
one of the roots: the workspace, the project's own `configs/` and `data/` folders, and the
folders given with `--data-root DIR` when the studio starts. The CLI is not confined: its
user has a shell.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from studio.errors import StudioError
from studio.models.references import BUILTIN_PREFIX
from studio.project import CONFIGS_DIR, DATA_DIR

if TYPE_CHECKING:
    from studio.train.config import TrainConfig
    from studio.workspace import Workspace

PROJECT_FOLDERS = (CONFIGS_DIR, DATA_DIR)
DATA_ROOT_FLAG = "--data-root"


def _resolved(value: str | Path) -> Path:
    """`value` made absolute (from the working directory) with `~`, `..` and symlinks resolved."""
    return Path(value).expanduser().resolve()


@dataclass(frozen=True)
class PathRoots:
    """The folders (absolute, symlinks resolved) that typed paths must lie in."""

    folders: tuple[Path, ...]

    @classmethod
    def for_workspace(
        cls, workspace_root: Path, data_roots: Iterable[str | Path] = ()
    ) -> PathRoots:
        """The workspace, the project's configs/ and data/, and each data root (a folder)."""
        extra = []
        for root in data_roots:
            folder = _resolved(root)
            if not folder.is_dir():
                raise StudioError(f"{DATA_ROOT_FLAG} {root}: not a folder; give an existing folder")
            extra.append(folder)
        found = [_resolved(workspace_root), *(_resolved(p) for p in PROJECT_FOLDERS), *extra]
        return cls(tuple(dict.fromkeys(found)))

    def describe(self) -> str:
        return ", ".join(str(folder) for folder in self.folders)

    def confine(self, value: str | Path, what: str) -> Path:
        """`value` resolved, when it lies inside a root; otherwise a StudioError naming them."""
        path = _resolved(value)
        if any(path.is_relative_to(folder) for folder in self.folders):
            return path
        raise StudioError(
            f"{what} {value} is outside the folders the studio may use ({self.describe()}); "
            f"move it into one of them, or restart the studio with {DATA_ROOT_FLAG} DIR "
            "to add the folder that holds it"
        )

    def confine_model_ref(self, ref: str, what: str) -> str:
        """`ref` unchanged when it names a built-in model or a path inside a root."""
        if ref.strip() and not ref.startswith(BUILTIN_PREFIX):
            self.confine(ref, what)
        return ref

    def confine_train_config(self, cfg: TrainConfig) -> TrainConfig:
        """`cfg` unchanged when every path it names (model, adapters, output and checkpoint
        folders) lies inside a root."""
        self.confine_model_ref(cfg.model_name_or_path, "config key 'model_name_or_path':")
        for adapter in cfg.adapter_name_or_path:
            self.confine(adapter, "config key 'adapter_name_or_path':")
        for key in ("output_dir", "resume_from_checkpoint"):
            value = getattr(cfg, key)
            if value:
                self.confine(value, f"config key '{key}':")
        return cfg

    def confine_adapter(self, ws: Workspace, value: str) -> str:
        """The adapter folder `value` names (an adapter folder, or a training run by folder or
        name), inside a root: a typed path is checked before anything looks at it."""
        from studio.jobs.runs import adapter_folder

        if Path(value).name != value:  # a path, not a run's name
            self.confine(value, "Adapter")
        return str(self.confine(adapter_folder(ws, value), "Adapter"))
