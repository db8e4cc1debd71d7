"""The studio's datasets load in LLaMA-Factory: the dataset_info.json entries of an imported
SFT dataset and of an exported pair set, read by a transcription of LLaMA-Factory's rules
(data/parser.py `get_dataset_list` + `DatasetAttr.join`, data/loader.py's file rules and stage
check, data/converter.py's `AlpacaDatasetConverter`, and the supervised/pairwise processors'
"Dropped invalid example" filter), give every row, with the prompts and answers the studio
trains on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from studio.data.prompts import build_messages
from studio.data.registry import get_dataset, load_examples
from studio.pairs.export import export_pairs
from studio.workspace import Workspace

# data/parser.py DatasetAttr: the fields join() reads and their defaults
LF_COLUMNS = ["prompt", "query", "response", "history", "messages", "system", "tools"]
LF_COLUMNS += ["images", "videos", "audios", "chosen", "rejected", "kto_tag"]
LF_DEFAULTS = {"prompt": "instruction", "query": "input", "response": "output"}
LF_DEFAULTS |= {"messages": "conversations"}
LF_FILE_TYPES = {"arrow": "arrow", "csv": "csv", "json": "json", "jsonl": "json"}
LF_FILE_TYPES |= {"parquet": "parquet", "txt": "text"}


def lf_dataset_attr(info: dict[str, Any], name: str) -> dict[str, Any]:
    """get_dataset_list for one name: the DatasetAttr fields LLaMA-Factory would use."""
    assert name in info, f"Undefined dataset {name} in dataset_info.json."
    entry = info[name]
    remote = ("hf_hub_url", "ms_hub_url", "om_hub_url", "script_url", "cloud_file_name")
    assert not any(key in entry for key in remote)
    attr: dict[str, Any] = {"load_from": "file", "dataset_name": entry["file_name"]}
    attr["formatting"] = entry.get("formatting", "alpaca")
    attr["ranking"] = entry.get("ranking", False)
    attr["num_samples"] = entry.get("num_samples")
    columns = {column: LF_DEFAULTS.get(column) for column in LF_COLUMNS}
    if "columns" in entry:
        columns = {column: entry["columns"].get(column) for column in LF_COLUMNS}
    return {**attr, **columns}


def lf_load_rows(dataset_dir: Path, attr: dict[str, Any]) -> list[dict[str, Any]]:
    """_load_single_dataset for a local file: one type of file, read as `datasets` reads json."""
    local = dataset_dir / attr["dataset_name"]
    files = sorted(local.iterdir()) if local.is_dir() else [local]
    assert local.exists(), f"File {local} not found."
    types = {LF_FILE_TYPES.get(f.suffix.lstrip(".")) for f in files}
    assert types == {"json"}, "Allowed file types: json here"
    rows = []
    for file in files:
        text = file.read_text(encoding="utf-8")
        if text.lstrip().startswith("["):
            rows.extend(json.loads(text))
        else:
            rows.extend(json.loads(line) for line in text.splitlines() if line.strip())
    keys = set().union(*(row.keys() for row in rows))  # `datasets` fills absent keys with None
    return [{key: row.get(key) for key in keys} for row in rows]


def lf_alpaca_convert(attr: dict[str, Any], example: dict[str, Any]) -> dict[str, Any]:
    """AlpacaDatasetConverter.__call__ (text only)."""
    prompt = []
    if attr["history"] and isinstance(example[attr["history"]], list):
        for old_prompt, old_response in example[attr["history"]]:
            prompt.append({"role": "user", "content": old_prompt})
            prompt.append({"role": "assistant", "content": old_response})
    query = []
    if attr["prompt"] and example[attr["prompt"]]:
        query.append(example[attr["prompt"]])
    if attr["query"] and example[attr["query"]]:
        query.append(example[attr["query"]])
    prompt.append({"role": "user", "content": "\n".join(query)})
    if (
        attr["ranking"]
        and isinstance(example[attr["chosen"]], str)
        and isinstance(example[attr["rejected"]], str)
    ):
        response = [
            {"role": "assistant", "content": example[attr["chosen"]]},
            {"role": "assistant", "content": example[attr["rejected"]]},
        ]
    elif attr["response"] and isinstance(example[attr["response"]], str):
        response = [{"role": "assistant", "content": example[attr["response"]]}]
    else:
        response = []
    system = example[attr["system"]] if attr["system"] else ""
    return {"_prompt": prompt, "_response": response, "_system": system}


def lf_kept(converted: dict[str, Any], stage: str) -> bool:
    """The processors' filter: an odd prompt, one response (sft) or at least two (rm/dpo)."""
    if len(converted["_prompt"]) % 2 != 1:
        return False
    count = len(converted["_response"])
    return count == 1 if stage == "sft" else count >= 2


def lf_load(ws: Workspace, name: str, stage: str) -> list[dict[str, Any]]:
    """The aligned rows LLaMA-Factory trains on, with `dataset_dir: <workspace>`."""
    info = json.loads(ws.dataset_info_path.read_text())
    attr = lf_dataset_attr(info, name)
    assert attr["formatting"] == "alpaca"
    assert attr["ranking"] is (stage == "rm"), "dataset not applicable in the current stage"
    converted = [lf_alpaca_convert(attr, row) for row in lf_load_rows(ws.root, attr)]
    assert all(lf_kept(row, stage) for row in converted)
    return converted


def studio_messages(example: Any) -> tuple[list[dict[str, str]], str]:
    """The studio's prompt messages without the system one, and its system text."""
    messages = build_messages(example)
    system = messages[0]["content"] if messages[0]["role"] == "system" else ""
    return [m for m in messages if m["role"] != "system"], system


def test_an_imported_sft_dataset_loads_in_llamafactory_as_the_studio_trains_it(
    demo_ws: Workspace,
) -> None:
    rows = lf_load(demo_ws, "demo_train", "sft")
    examples = load_examples(demo_ws, "demo_train")
    assert len(rows) == len(examples) == get_dataset(demo_ws, "demo_train").rows
    for row, example in zip(rows, examples, strict=True):
        messages, system = studio_messages(example)
        assert row["_prompt"] == messages and row["_system"] == system
        assert row["_response"] == [{"role": "assistant", "content": example.response}]


def test_an_exported_pair_set_loads_in_llamafactory_as_the_studio_trains_it(
    mined: tuple[Workspace, Path],
) -> None:
    ws, _ = mined
    summary = export_pairs(ws, "lf_pairs", include_pending=True)
    rows = lf_load(ws, "lf_pairs", "rm")
    examples = load_examples(ws, "lf_pairs")
    assert len(rows) == len(examples) == summary["rows"] > 0
    for row, example in zip(rows, examples, strict=True):
        messages, system = studio_messages(example)
        assert row["_prompt"] == messages and row["_system"] == system
        assert [m["content"] for m in row["_response"]] == [example.chosen, example.rejected]
