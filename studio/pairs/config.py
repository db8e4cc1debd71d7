"""A mining run's settings: what `RUN_DIR/config.json` holds, validated into a dataclass."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from studio.data.rowfiles import read_json
from studio.errors import StudioError
from studio.fsutil import atomic_write_json
from studio.inference.settings import DEFAULT_ENGINE, DEFAULT_MAX_NEW_TOKENS, ENGINES
from studio.jobs.rundir import ADAPTER_CONFIG, RunDir
from studio.pairs.store import STRATEGIES


@dataclass(frozen=True)
class MiningConfig:
    """Which model answers which dataset, how it samples, and how pairs are built.

    temperature 0 means greedy decoding (then n must be 1). limit keeps the first N
    questions of the dataset. timeout_s bounds each query's execution.
    """

    model: str
    dataset: str
    adapters: list[str] = field(default_factory=list)
    n: int = 4
    temperature: float = 0.8
    top_p: float = 0.95
    strategy: str = "gold"
    pairs_per_question: int = 1
    limit: int | None = None
    batch_size: int = 16
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
    seed: int = 0
    timeout_s: float = 30.0
    engine: str = DEFAULT_ENGINE

    def __post_init__(self) -> None:
        def bad(key: str, why: str) -> StudioError:
            return StudioError(f"mining config field '{key}': {why}")

        if not self.model:
            raise bad(
                "model", "give a model reference (builtin:<name>, a model folder or a .gguf file)"
            )
        if not self.dataset:
            raise bad("dataset", "give the name of a registered dataset")
        if self.engine not in ENGINES:
            raise bad("engine", f"{self.engine!r} is unknown; use one of {', '.join(ENGINES)}")
        if self.strategy not in STRATEGIES:
            raise bad(
                "strategy", f"{self.strategy!r} is unknown; use one of {', '.join(STRATEGIES)}"
            )
        for key in ("n", "pairs_per_question", "batch_size", "max_new_tokens"):
            if not isinstance(getattr(self, key), int) or getattr(self, key) < 1:
                raise bad(key, f"{getattr(self, key)!r} must be a whole number of at least 1")
        if self.limit is not None and (not isinstance(self.limit, int) or self.limit < 1):
            raise bad(
                "limit", f"{self.limit!r} must be a whole number of at least 1 (or null for all)"
            )
        if self.temperature < 0:
            raise bad("temperature", "must be 0 (greedy) or more")
        if self.temperature == 0 and self.n != 1:
            raise bad(
                "n",
                "greedy decoding (temperature 0) gives one answer per question; "
                f"set n to 1, not {self.n}",
            )
        if not 0 < self.top_p <= 1:
            raise bad("top_p", f"{self.top_p} must be in (0, 1]")
        if self.timeout_s <= 0:
            raise bad("timeout_s", "must be positive")
        for adapter in self.adapters:
            if not (Path(adapter) / ADAPTER_CONFIG).is_file():
                raise bad(
                    "adapters", f"{adapter} is not a LoRA adapter folder (no {ADAPTER_CONFIG})"
                )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_mapping(cls, data: dict[str, Any], where: str = "mining config") -> MiningConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise StudioError(
                f"{where}: unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        missing = [key for key in ("model", "dataset") if key not in data]
        if missing:
            raise StudioError(f"{where}: missing field(s) {', '.join(missing)}")
        adapters = data.get("adapters") or []
        return cls(**{**data, "adapters": [str(Path(a).expanduser().resolve()) for a in adapters]})


def write_config(run_dir: Path, config: MiningConfig) -> Path:
    """Write the settings into the run folder (config.json, what the worker reads)."""
    path = RunDir(run_dir).settings_config
    atomic_write_json(path, config.to_dict())
    return path


def read_config(run_dir: Path) -> MiningConfig:
    """The run folder's validated settings; a StudioError naming the file otherwise."""
    path = RunDir(run_dir).settings_config
    if not path.is_file():
        raise StudioError(f"{path} not found: a mining run folder needs its config.json")
    data = read_json(
        path, dict, "the top level must be a JSON object of mining settings", fix="fix it"
    )
    return MiningConfig.from_mapping(data, where=str(path))
