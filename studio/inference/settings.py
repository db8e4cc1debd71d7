"""How to generate: the engines, their defaults and the sampling settings every caller shares."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MAX_NEW_TOKENS = 256
ENGINES = ("prefix", "batched", "continuous")
DEFAULT_ENGINE = "prefix"
# prompts per batch: decoding reads every weight once per step, so fuller steps pay
DEFAULT_BATCH_SIZE = 32
ENGINE_HELP = (
    "prefix: shared schema prefixes prefilled once, finished answers leave the batch "
    "(default, fastest); "
    "batched: HF generate on length-sorted batches; continuous: transformers' continuous batching"
)


@dataclass(frozen=True)
class GenerationSettings:
    """How to sample. temperature 0 means greedy (then n must be 1)."""

    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
    temperature: float = 0.0
    top_p: float = 1.0
    n: int = 1
    batch_size: int = DEFAULT_BATCH_SIZE
    seed: int = 0
    engine: str = DEFAULT_ENGINE

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(
                f"unknown generation engine {self.engine!r}; use one of {', '.join(ENGINES)}"
            )
        if self.temperature == 0.0 and self.n != 1:
            raise ValueError("greedy decoding (temperature 0) gives one answer per prompt; set n=1")
        if self.n < 1 or self.batch_size < 1 or self.max_new_tokens < 1:
            raise ValueError("n, batch_size and max_new_tokens must be at least 1")
