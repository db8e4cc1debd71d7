"""Continuing a finished training run as a new run: the finished run's config, starting from
the adapter it saved, in a folder of its own (a finished run is never trained further in place).

    cfg = continuation_config(ws, "sft-demo_train-20250101-120000-a1b2c3", ["max_steps=20"])
    job = start_training(ws, cfg)            # runs/<stage>-*/, a new adapter/

The new run's adapters are the finished run's inference stack (summary.json's
`inference_adapters`: the adapters it merged, then the one it saved): SFT trains the saved
adapter further; DPO with `dpo_reference: sft_adapter` trains it further against a frozen
copy of it, with `merged_sft` it merges the stack and trains a new adapter on top.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from studio.errors import StudioError
from studio.jobs import SUCCEEDED
from studio.jobs.rundir import RunDir
from studio.train.config import TrainConfig, config_from_mapping, load_config, parse_override
from studio.train.form import base_of

if TYPE_CHECKING:
    from studio.workspace import Workspace

# keys that tie a config to the run it came from: a continuation sets them afresh
RUN_BOUND_KEYS = ("output_dir", "resume_from_checkpoint")


def continuation_config(ws: Workspace, run: str, overrides: Sequence[str] = ()) -> TrainConfig:
    """The config of a new run continuing the succeeded training run `run` (a name or folder)
    from its saved adapter, with `key=value` overrides applied."""
    from studio.jobs.kinds import TRAIN
    from studio.jobs.runs import find_run

    found = find_run(ws, TRAIN.name, run)
    folder = RunDir(found.run_dir)
    adapter = folder.saved_adapter()
    if found.state != SUCCEEDED or adapter is None:
        raise StudioError(
            f"training run {found.name} is {found.state} and saved no adapter, so there is "
            "nothing to continue from; resume it from its last checkpoint instead"
        )
    stack = (folder.read_summary() or {}).get("inference_adapters") or [str(adapter)]
    mapping = base_of(load_config(folder.train_config, overrides=()))
    mapping.update(dict.fromkeys(RUN_BOUND_KEYS))
    mapping["adapter_name_or_path"] = [str(path) for path in stack]
    for override in overrides:
        key, value = parse_override(override)
        mapping[key] = value
    return config_from_mapping(mapping, source=f"the continuation of {found.name}")
