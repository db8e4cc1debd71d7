"""Registered datasets -> TRL conversational records.

SFT rows become prompt/completion records (TRL puts the loss on the completion only, so
the answers of earlier turns are context, not targets); preference rows become
prompt/chosen/rejected records; for GRPO, SFT rows become prompt records with the question's
database reference and gold SQL (what the execution reward needs). An entry's `num_samples`
draws that many rows first, then `max_samples` keeps the first ones, as in LLaMA-Factory.
The prompt messages come from `studio.data.prompts.build_messages`, the same function
inference uses, and every record asks the chat template for `enable_thinking=False` (Qwen3
templates; others ignore it).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.data.prompts import SYSTEM_PROMPT, build_messages
from studio.data.registry import DatasetInfo, Example, get_dataset, load_examples
from studio.data.validate import format_problems, validate_dataset
from studio.errors import StudioError
from studio.evaluate.scoring import database_refs
from studio.train.config import TrainConfig
from studio.train.keys import TEMPLATES
from studio.workspace import Workspace

if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import PreTrainedTokenizerBase


STAGE_KIND = {"sft": "sft", "dpo": "preference", "grpo": "sft"}
CHAT_TEMPLATE_KWARGS = {"enable_thinking": False}


def template_system(template: str | None) -> str | None:
    """The system prompt of rows without one: the studio's SQL prompt when no template is given,
    else the LLaMA-Factory template's default system prompt (None: no system message)."""
    if template is None:
        return SYSTEM_PROMPT
    known = TEMPLATES.get(template)
    return known.system if known else None


def dataset_source(ws: Workspace, cfg: TrainConfig) -> Workspace:
    """Where the config's datasets are registered: the workspace, or `dataset_dir` (a folder
    holding a dataset_info.json, read only)."""
    if cfg.dataset_dir is None:
        return ws
    folder = Path(cfg.dataset_dir).expanduser().resolve()
    if not (folder / "dataset_info.json").is_file():
        raise StudioError(
            f"config key 'dataset_dir': {folder} holds no dataset_info.json; give the folder "
            "that holds it, or remove the key to use the workspace's datasets"
        )
    return Workspace(folder)


def check_datasets(ws: Workspace, cfg: TrainConfig) -> list[DatasetInfo]:
    """The config's datasets, each registered, of the kind its stage trains on, and free of
    the problems `data validate` reports (the same checks)."""
    wanted = STAGE_KIND[cfg.stage]
    infos = []
    source = dataset_source(ws, cfg)
    for name in cfg.dataset:
        info = get_dataset(source, name)
        problems = validate_dataset(source, name)
        if problems:
            raise StudioError(
                f"config key 'dataset': '{name}' cannot be trained on:\n"
                f"{format_problems(problems)}\n"
                "fix these, then check again with `python -m studio data validate`"
            )
        if info.kind != wanted:
            fix = (
                "give an SFT dataset (instruction/output) or set stage: dpo"
                if info.kind == "preference"
                else "give a preference dataset (instruction/chosen/rejected) or set stage: sft"
            )
            raise StudioError(
                f"config key 'dataset': '{name}' is a {info.kind} dataset but stage: {cfg.stage} "
                f"trains on {wanted} datasets; {fix}"
            )
        infos.append(info)
    return infos


def _record(
    example: Example, stage: str, dataset: str, system: str | None, databases: dict[str, str]
) -> dict[str, Any]:
    prompt = build_messages(example, default_system=system)
    if stage == "grpo":
        return {
            "prompt": prompt,
            "database": databases[str(example.db_id)],
            "gold_sql": example.gold_sql,
            "chat_template_kwargs": CHAT_TEMPLATE_KWARGS,
        }
    if stage == "sft":
        if not example.response:
            raise StudioError(
                f"dataset '{dataset}' row {example.index}: the response (output) is empty; fill it "
                "or remove the row"
            )
        return {
            "prompt": prompt,
            "completion": [{"role": "assistant", "content": example.response}],
            "chat_template_kwargs": CHAT_TEMPLATE_KWARGS,
        }
    if not example.chosen or not example.rejected:
        raise StudioError(
            f"dataset '{dataset}' row {example.index}: chosen and rejected must both be non-empty"
        )
    return {
        "prompt": prompt,
        "chosen": [{"role": "assistant", "content": example.chosen}],
        "rejected": [{"role": "assistant", "content": example.rejected}],
        "chat_template_kwargs": CHAT_TEMPLATE_KWARGS,
    }


def sampled(examples: list[Example], num_samples: int | None, seed: int) -> list[Example]:
    """`num_samples` examples drawn as LLaMA-Factory's loader draws them: a shuffled selection
    without repeats, then (when more are asked for than there are) repeats drawn at random;
    all of them, in order, without `num_samples`."""
    if num_samples is None or not examples:
        return examples
    rng = random.Random(seed)
    order = rng.sample(range(len(examples)), min(num_samples, len(examples)))
    order += [rng.randrange(len(examples)) for _ in range(num_samples - len(order))]
    return [examples[i] for i in order]


def training_records(ws: Workspace, cfg: TrainConfig) -> list[dict[str, Any]]:
    """The config's TRL records, max_samples per dataset (a StudioError when there are none)."""
    source = dataset_source(ws, cfg)
    system = template_system(cfg.template)
    records: list[dict[str, Any]] = []
    for info in check_datasets(ws, cfg):
        examples = sampled(load_examples(source, info.name), info.num_samples, cfg.seed)
        if cfg.max_samples is not None:
            examples = examples[: cfg.max_samples]
        databases = database_refs(source, info.name, examples) if cfg.stage == "grpo" else {}
        records.extend(
            _record(example, cfg.stage, info.name, system, databases) for example in examples
        )
    if not records:
        raise StudioError(f"datasets {', '.join(cfg.dataset)} hold no rows; import data first")
    return records


def check_cutoff(
    records: list[dict[str, Any]], tokenizer: PreTrainedTokenizerBase, cfg: TrainConfig
) -> None:
    """A StudioError when no record's prompt leaves room for an answer token within cutoff_len.

    TRL (SFT and DPO) drops every example whose prompt alone fills `max_length`; the prompts
    are tokenized as TRL does (chat template, generation prompt, thinking off) until one fits.
    """
    shortest = None
    for record in records:
        ids = tokenizer.apply_chat_template(
            record["prompt"],
            tokenize=True,
            return_dict=True,
            add_generation_prompt=True,
            **CHAT_TEMPLATE_KWARGS,
        )
        length = len(ids["input_ids"])
        if length < cfg.cutoff_len:
            return
        shortest = length if shortest is None else min(shortest, length)
    raise StudioError(
        f"config key 'cutoff_len': {cfg.cutoff_len} tokens leave no training "
        f"example: the shortest of the {len(records)} prompts of "
        f"{', '.join(cfg.dataset)} is {shortest} tokens, and TRL drops every "
        f"example whose prompt fills cutoff_len; raise cutoff_len above {shortest} "
        "(plus room for the answer)"
    )


def build_datasets(
    ws: Workspace, cfg: TrainConfig, records: list[dict[str, Any]] | None = None
) -> tuple[Dataset, Dataset | None]:
    """(train, eval) TRL records for the config (or the given ones): max_samples per dataset,
    val_size held out."""
    from datasets import Dataset

    records = training_records(ws, cfg) if records is None else records
    dataset = Dataset.from_list(records)
    if not cfg.val_size:
        return dataset, None
    held_out = (
        int(cfg.val_size) if cfg.val_size >= 1 else max(1, round(cfg.val_size * len(records)))
    )
    if held_out >= len(records):
        raise StudioError(
            f"config key 'val_size': {cfg.val_size} holds out {held_out} of {len(records)} rows, "
            "leaving none to train on; use a smaller fraction or more rows"
        )
    split = dataset.train_test_split(test_size=held_out, seed=cfg.seed)
    return split["train"], split["test"]
