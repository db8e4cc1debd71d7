"""What a config does with LLaMA-Factory's keys, in words: each key the studio does not honour with
its fate, and the keys that took LLaMA-Factory's defaults. `train --check`, the job log,
summary.json and the Train tab show it."""

from __future__ import annotations

from typing import Any

from studio.train.config import TrainConfig
from studio.train.llamafactory_keys import FATES


def key_fates(cfg: TrainConfig) -> dict[str, dict[str, Any]]:
    """Each LLaMA-Factory key of the config the studio does not honour: value, fate, reason."""
    return {
        key: {"value": value, "fate": FATES[key].fate, "reason": FATES[key].reason}
        for key, value in cfg.llamafactory_keys.items()
    }


def report_lines(cfg: TrainConfig) -> list[str]:
    """One line per key the studio does not honour, then one naming LLaMA-Factory's defaults."""
    lines = [f"{key}: {fate['fate']} ({fate['reason']})" for key, fate in key_fates(cfg).items()]
    if cfg.lf_defaults:
        given = ", ".join(f"{key}={_yaml(value)}" for key, value in cfg.lf_defaults.items())
        lines.append(
            "LLaMA-Factory's defaults for unset keys (the file sets LLaMA-Factory keys the "
            f"studio does not honour; `defaults: studio` turns this off): {given}"
        )
    return lines


def _yaml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else str(value)
