"""A `dataset_info.json` entry read by LLaMA-Factory's rules (its `DatasetAttr`).

    formatting   "alpaca" (default) or "sharegpt" (OpenAI `messages` through `tags`)
    ranking      preference data (chosen/rejected) when true
    num_samples  how many rows training draws (fewer: a sample; more: repeats)
    columns      LLaMA-Factory's column name -> the row key; when `columns` is given, a column
                 it leaves out is None (no default), as in LLaMA-Factory
    tags         sharegpt only: the message keys and role names

An entry that loads from a hub, a script or cloud storage is refused: the studio reads local
files only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from studio.errors import StudioError

FORMATTINGS = ("alpaca", "sharegpt")
# LLaMA-Factory's source keys, in the order it prefers them, with what they name.
REMOTE_SOURCE_KEYS = {
    "hf_hub_url": "a Hugging Face hub dataset",
    "ms_hub_url": "a ModelScope hub dataset",
    "om_hub_url": "a Modelers hub dataset",
    "script_url": "a dataset loading script",
    "cloud_file_name": "a file in cloud storage",
}
COLUMN_DEFAULTS: dict[str, str | None] = {
    "prompt": "instruction",
    "query": "input",
    "response": "output",
    "history": None,
    "messages": "conversations",
    "system": None,
    "tools": None,
    "images": None,
    "videos": None,
    "audios": None,
    "chosen": None,
    "rejected": None,
    "kto_tag": None,
}
UNSUPPORTED_COLUMNS = {
    "tools": "tool calls",
    "images": "image inputs",
    "videos": "video inputs",
    "audios": "audio inputs",
    "kto_tag": "KTO training",
}
TAG_DEFAULTS: dict[str, str | None] = {
    "role_tag": "from",
    "content_tag": "value",
    "user_tag": "human",
    "assistant_tag": "gpt",
    "observation_tag": "observation",
    "function_tag": "function_call",
    "system_tag": "system",
}
ROW_KEYS_MISTAKEN_FOR_COLUMNS = {"instruction": "prompt", "input": "query", "output": "response"}
ALPACA_COLUMNS = {"prompt": "instruction", "query": "input", "response": "output"}
OPENAI_TAGS = {
    "role_tag": "role",
    "content_tag": "content",
    "user_tag": "user",
    "assistant_tag": "assistant",
    "system_tag": "system",
}


class EntryProblem(StudioError):
    """Something wrong with an entry's own fields: the field, what is wrong and the fix."""

    def __init__(self, field: str | None, message: str, fix: str) -> None:
        self.field = field
        self.message = message
        self.fix = fix
        super().__init__(f"{field or 'entry'}: {message}; {fix}")


@dataclass(frozen=True)
class EntryAttr:
    """The fields of a local-file entry, LLaMA-Factory's defaults filled in."""

    file_name: str
    formatting: str = "alpaca"
    ranking: bool = False
    num_samples: int | None = None
    columns: Mapping[str, str | None] = field(default_factory=lambda: dict(COLUMN_DEFAULTS))
    tags: Mapping[str, str | None] = field(default_factory=lambda: dict(TAG_DEFAULTS))
    explicit_columns: frozenset[str] = frozenset()

    def column(self, name: str) -> str | None:
        """The row key of LLaMA-Factory's column `name` (None: the column is not read)."""
        return self.columns.get(name)


def remote_source(entry: Mapping[str, Any]) -> tuple[str, str] | None:
    """(key, value) of the hub/script/cloud source LLaMA-Factory would load, or None."""
    for key in REMOTE_SOURCE_KEYS:
        if key in entry:
            return key, str(entry[key])
    return None


def parse_entry(entry: Any) -> EntryAttr:
    """The entry as LLaMA-Factory reads it; a StudioError naming every problem otherwise."""
    attr, problems = check_entry(entry)
    if attr is None:
        raise StudioError("; ".join(str(problem) for problem in problems))
    return attr


def check_entry(entry: Any) -> tuple[EntryAttr | None, list[EntryProblem]]:
    """(the entry as LLaMA-Factory reads it, None) or (None, everything the studio cannot load)."""
    try:
        fields = _fields(entry)
    except EntryProblem as problem:
        return None, [problem]
    problems = _column_problems(entry.get("columns", {}))
    if problems:
        return None, problems
    try:
        tags = _tags(entry, fields["formatting"])
    except EntryProblem as problem:
        return None, [problem]
    columns = entry.get("columns")
    return EntryAttr(
        **fields,
        columns=dict(COLUMN_DEFAULTS)
        if columns is None
        else {key: columns.get(key) for key in COLUMN_DEFAULTS},
        tags=tags,
        explicit_columns=frozenset(columns or ()),
    ), []


def _fields(entry: Any) -> dict[str, Any]:
    """file_name, formatting, ranking and num_samples, checked."""
    if not isinstance(entry, dict):
        raise EntryProblem(
            None,
            f"the entry is a JSON {type(entry).__name__}",
            'make it an object such as {"file_name": "datasets/NAME.json", "formatting": "alpaca"}',
        )
    remote = remote_source(entry)
    if remote is not None:
        key, value = remote
        raise EntryProblem(
            key,
            f"{key} {value!r} loads {REMOTE_SOURCE_KEYS[key]}, and the studio has no hub "
            "or network access",
            f"download the file and register it with file_name (remove {key})",
        )
    if not isinstance(entry.get("file_name"), str) or not entry["file_name"].strip():
        raise EntryProblem(
            "file_name",
            "no file_name",
            'add "file_name": "datasets/NAME.json" (a file or folder, relative to the folder '
            "holding dataset_info.json)",
        )
    formatting = entry.get("formatting", "alpaca")
    if formatting not in FORMATTINGS:
        fix = 'use "formatting": "alpaca" or "sharegpt"'
        if formatting == "openai":
            fix = 'write OpenAI messages as "formatting": "sharegpt" with "tags": ' + _json(
                OPENAI_TAGS
            )
        raise EntryProblem("formatting", f"formatting {formatting!r} is not read here", fix)
    ranking = entry.get("ranking", False)
    if not isinstance(ranking, bool):
        raise EntryProblem("ranking", f"ranking is {ranking!r}", "write true or false")
    num_samples = entry.get("num_samples")
    if num_samples is not None and (
        not isinstance(num_samples, int) or isinstance(num_samples, bool) or num_samples < 1
    ):
        raise EntryProblem(
            "num_samples", f"num_samples is {num_samples!r}", "write a whole number above 0"
        )
    if not isinstance(entry.get("columns", {}), dict):
        raise EntryProblem(
            "columns",
            "columns is not an object",
            'write it as {"prompt": "instruction", "query": "input", "response": "output"}',
        )
    return {
        "file_name": entry["file_name"],
        "formatting": formatting,
        "ranking": ranking,
        "num_samples": num_samples,
    }


def _column_problems(columns: Mapping[str, Any]) -> list[EntryProblem]:
    problems = []
    for key, value in columns.items():
        if key in ROW_KEYS_MISTAKEN_FOR_COLUMNS:
            problems.append(
                EntryProblem(
                    f"columns.{key}",
                    f"'{key}' is a row key used as a column name; the keys of columns are "
                    "LLaMA-Factory's names and the values are your row keys",
                    f'write "{ROW_KEYS_MISTAKEN_FOR_COLUMNS[key]}": "{key}" instead of '
                    f'"{key}": ... (alpaca: {_json(ALPACA_COLUMNS)})',
                )
            )
        elif key not in COLUMN_DEFAULTS:
            problems.append(
                EntryProblem(
                    f"columns.{key}",
                    f"'{key}' is not a LLaMA-Factory column name",
                    f"use one of {', '.join(COLUMN_DEFAULTS)} as the keys of columns",
                )
            )
        elif key in UNSUPPORTED_COLUMNS and value is not None:
            problems.append(
                EntryProblem(
                    f"columns.{key}",
                    f"the studio trains text-to-SQL models without {UNSUPPORTED_COLUMNS[key]}",
                    f"remove columns.{key}, or train this dataset in LLaMA-Factory",
                )
            )
        elif value is not None and not isinstance(value, str):
            problems.append(
                EntryProblem(
                    f"columns.{key}", f"the row key is {value!r}", "write the row key as a string"
                )
            )
    return problems


def _tags(entry: Mapping[str, Any], formatting: str) -> dict[str, str | None]:
    if "tags" not in entry:
        return dict(TAG_DEFAULTS)
    given = entry["tags"]
    if not isinstance(given, dict):
        raise EntryProblem("tags", "tags is not an object", "write it as " + _json(OPENAI_TAGS))
    if formatting != "sharegpt":
        raise EntryProblem(
            "tags",
            "tags are read for sharegpt data only",
            'set "formatting": "sharegpt", or remove tags',
        )
    for key, value in given.items():
        if key not in TAG_DEFAULTS:
            raise EntryProblem(
                f"tags.{key}",
                f"'{key}' is not a LLaMA-Factory tag name",
                f"use one of {', '.join(TAG_DEFAULTS)}",
            )
        if value is not None and not isinstance(value, str):
            raise EntryProblem(f"tags.{key}", f"the tag is {value!r}", "write it as a string")
    # LLaMA-Factory's join reads every tag from `tags` with a None default
    return {key: given.get(key) for key in TAG_DEFAULTS}


def _json(mapping: Mapping[str, str]) -> str:
    return "{" + ", ".join(f'"{key}": "{value}"' for key, value in mapping.items()) + "}"
