"""What a patch of library internals is: its entry in the registry (studio.patches.registry)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from studio.train.config import TrainConfig

FolderStep = Callable[[Path], None]


@dataclass(frozen=True)
class Internal:
    """Symbols of one library module a patch relies on.

    `names` are attributes of the module, dotted for class members (`Trainer._save_checkpoint`);
    `signatures` gives, for some of them, the parameters the callable must take first.
    """

    module: str
    names: tuple[str, ...]
    signatures: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class Patch:
    """One patch: what it is, its key, the internals it relies on and how it is installed.

    `is_on(config)` reads the key (a TrainConfig for training patches, GenerationSettings for
    decoding ones); `applies(model_config)` says whether the loaded model has anything for it to
    patch. The install functions are called only for patches that are on and apply.
    """

    name: str
    source: str
    scope: Literal["training", "decoding"]
    key: str | None  # None: always on (nothing else keeps checkpoints whole)
    off: str  # how to turn it off, for error messages
    checked_with: tuple[str, ...]
    internals: tuple[Internal, ...]
    is_on: Callable[[Any], bool]
    applies: Callable[[Any], bool] = lambda model_config: True
    before_load: Callable[[], None] | None = None
    on_model: Callable[[Any], None] | None = None
    on_trainer: Callable[[Any, TrainConfig, Sequence[FolderStep]], None] | None = None
    while_decoding: Callable[[Any], AbstractContextManager[None]] | None = None
