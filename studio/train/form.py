"""The Train form as data: which config keys it shows, in which order, and the mapping between
its field values and a config (and so its YAML).

    values = form_values(base)                 # config mapping -> field values, FORM_KEYS order
    cfg = config_from_form(base, values)       # field values over `base` -> validated TrainConfig
    text = form_yaml(base, values)             # the YAML pane for the form (never raises)

`base` is the mapping the form was last filled from (a loaded YAML, a run's config): keys the
form has no field for keep their values from it. The Train tab holds layout and wiring only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.errors import StudioError
from studio.jobs.rundir import RunDir
from studio.models.references import DEFAULT_MODEL
from studio.train.config import TrainConfig, config_from_mapping, dump_config, load_config
from studio.train.key_report import report_lines
from studio.train.keys import BY_NAME

if TYPE_CHECKING:
    from studio.workspace import Workspace

# the form's fields, in the order the tab passes their values
FORM_KEYS = (
    "stage",
    "model_name_or_path",
    "adapter_name_or_path",
    "dataset",
    "lora_rank",
    "lora_alpha",
    "lora_dropout",
    "lora_target",
    "learning_rate",
    "num_train_epochs",
    "max_steps",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "cutoff_len",
    "logging_steps",
    "save_steps",
    "pref_beta",
    "pref_loss",
    "pref_ftx",
    "dpo_reference",
    "packing",
)
TEXT_LIST_KEYS = ("lora_target",)  # lists typed as comma-separated text
DATASET_KIND = {"sft": "sft", "dpo": "preference"}
INDEX = {key: i for i, key in enumerate(FORM_KEYS)}

DEFAULT_BASE = TrainConfig(
    dataset=["demo_train"],
    model_name_or_path=DEFAULT_MODEL,
    max_steps=8,
    logging_steps=1,
    cutoff_len=1024,
).to_dict()


def label(key: str) -> str:
    """The form label of config key `key` (studio/train/keys.py)."""
    return BY_NAME[key].label


def base_of(cfg: TrainConfig) -> dict[str, Any]:
    """The mapping a form filled from `cfg` keeps: its keys and the LLaMA-Factory keys it
    carries."""
    return {**cfg.to_dict(), **cfg.llamafactory_keys}


def form_values(cfg: dict[str, Any]) -> list[Any]:
    """Form field values for a config mapping, in FORM_KEYS order."""
    values = []
    for key in FORM_KEYS:
        value = cfg.get(key)
        if key in TEXT_LIST_KEYS:
            value = ", ".join(value or [])
        elif key in ("adapter_name_or_path", "dataset"):
            value = list(value or [])
        elif key == "lora_alpha":
            value = value or 0
        values.append(value)
    return values


def config_from_form(base: dict[str, Any], values: list[Any]) -> TrainConfig:
    """The validated config: `base` overridden by the form's field values (FORM_KEYS order).
    Keys of the other stage are dropped: a DPO config turned SFT in the form loses pref_ftx."""
    mapping = dict(base)
    for key, value in zip(FORM_KEYS, values, strict=True):
        if key == "lora_alpha":
            value = int(value) if value else None
        mapping[key] = value
    if mapping.get("stage") == "dpo":
        mapping["packing"] = False  # an SFT-only switch; the checkbox is hidden for DPO
    else:
        mapping["pref_ftx"] = 0.0
        mapping["precompute_ref_log_probs"] = False
    return config_from_mapping(mapping, source="the form")


def form_yaml(base: dict[str, Any], values: list[Any]) -> str:
    """The YAML pane for the form: the config, or a comment saying why it is not one yet."""
    try:
        return dump_config(config_from_form(base, values))
    except StudioError as error:
        return f"# not a valid config yet: {error}\n"


def run_config(run_dir: Path) -> TrainConfig | None:
    """The config a training run was started with (what the form shows for it), None when the
    folder holds none that validates."""
    path = RunDir(run_dir).train_config
    try:
        return load_config(path) if path.is_file() else None
    except StudioError:
        return None


def key_notes(cfg: TrainConfig) -> str:
    """Markdown: the fate of each LLaMA-Factory key the config sets but the studio does not
    honour, and the keys that took LLaMA-Factory's defaults (empty when there are none)."""
    return "\n".join(f"- {line}" for line in report_lines(cfg))


def steps_note(epochs: float | None, max_steps: int | None) -> str:
    """Which of Epochs and Max steps ends the run."""
    if max_steps is not None and max_steps > 0:
        return f"**Max steps applies:** the run stops after {max_steps} steps; Epochs is ignored."
    return f"**Epochs applies:** the run trains {epochs or 0:g} epochs (Max steps is -1)."


@dataclass(frozen=True)
class DatasetChoices:
    """The datasets a stage can train on, the line saying what they are (or why there are none),
    and the newest of them (the one a new form of that stage starts with)."""

    names: list[str]
    info: str
    newest: str | None


def dataset_choices(ws: Workspace, stage: str) -> DatasetChoices:
    """Registered datasets of the kind a `stage` run trains on, in registration order."""
    from studio.data.registry import list_datasets

    kind = DATASET_KIND.get(stage, "sft")
    names = [info.name for info in list_datasets(ws) if info.kind == kind]
    if names:
        return DatasetChoices(names, f"{kind} datasets registered in the workspace", names[-1])
    if kind == "preference":
        info = (
            "no preference datasets registered: mine pairs and export them in the Pairs tab, or "
            "import a pairs JSONL in the Datasets tab"
        )
    else:
        info = "no SFT datasets registered: import one in the Datasets tab"
    return DatasetChoices([], info, None)


def restage(
    base: dict[str, Any],
    values: list[Any],
    datasets: DatasetChoices,
    sft_adapter: str | None,
) -> list[Any]:
    """The form's values after its stage changed to `values[stage]`: datasets of the other kind
    leave (those `base` names stay while its stage is the one chosen); a DPO form with none
    takes the newest preference dataset; a DPO or GRPO form without an adapter takes the newest
    SFT adapter; a GRPO form whose batch cannot hold whole groups of answers gets a batch of one
    group (`num_generations`, which only the YAML sets)."""
    values = list(values)
    stage = values[INDEX["stage"]]
    kept = base.get("dataset", []) if base.get("stage") == stage else []
    chosen = [n for n in values[INDEX["dataset"]] or [] if n in datasets.names or n in kept]
    if stage == "dpo" and not chosen and datasets.newest:
        chosen = [datasets.newest]
    if stage in ("dpo", "grpo") and not values[INDEX["adapter_name_or_path"]] and sft_adapter:
        values[INDEX["adapter_name_or_path"]] = [sft_adapter]
    if stage == "grpo":
        generations = base.get("num_generations") or BY_NAME["num_generations"].default
        batch = values[INDEX["per_device_train_batch_size"]] or 1
        steps = base.get("steps_per_generation") or values[INDEX["gradient_accumulation_steps"]]
        if (batch * (steps or 1)) % generations:
            values[INDEX["per_device_train_batch_size"]] = generations
    values[INDEX["dataset"]] = chosen
    return values
