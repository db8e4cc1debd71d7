"""One dataset row, alpaca or sharegpt, turned into the turns the studio trains on, by the
rules of LLaMA-Factory's converters (data/converter.py).

    alpaca    history pairs, then "prompt\\nquery" as the user turn, then response (or
              chosen/rejected when ranking); system from the system column
    sharegpt  messages alternating user/assistant; a first message with the system tag is
              the system prompt (else the system column); the last user turn is the prompt,
              the last assistant turn the response (SFT), or chosen/rejected messages follow
              (ranking); earlier turns become the history

A row LLaMA-Factory would skip or fail on raises a RowProblem; tool turns (observation,
function_call) are refused, as the studio trains text-to-SQL without tools.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from studio.data.entry import EntryAttr
from studio.errors import StudioError


class RowProblem(StudioError):
    """What is wrong with one row: the field inside the row, the message and the fix."""

    def __init__(self, field: str | None, message: str, fix: str) -> None:
        self.field = field
        self.message = message
        self.fix = fix
        super().__init__(f"{field or 'row'}: {message}; {fix}")


@dataclass(frozen=True)
class Turns:
    """A row's conversation: system (None when the row gives none), earlier (user, assistant)
    turns, the last user turn, and its answer (SFT) or chosen/rejected answers (ranking).
    An answer the row lacks is None."""

    system: str | None
    history: tuple[tuple[str, str], ...]
    prompt: str
    response: str | None = None
    chosen: str | None = None
    rejected: str | None = None


def convert_row(attr: EntryAttr, row: Mapping[str, Any]) -> Turns:
    """The row's Turns under entry `attr` (a RowProblem when it cannot be read)."""
    if attr.formatting == "sharegpt":
        return _sharegpt(attr, row)
    return _alpaca(attr, row)


def _alpaca(attr: EntryAttr, row: Mapping[str, Any]) -> Turns:
    history = _alpaca_history(attr, row)
    parts = [_value(row, attr.column(name)) for name in ("prompt", "query")]
    prompt = "\n".join(str(part) for part in parts if part)
    system = _value(row, attr.column("system"))
    if attr.ranking:
        return Turns(
            system,
            history,
            prompt,
            chosen=_string(row, attr.column("chosen")),
            rejected=_string(row, attr.column("rejected")),
        )
    return Turns(system, history, prompt, response=_string(row, attr.column("response")))


def _alpaca_history(attr: EntryAttr, row: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    key = attr.column("history")
    history = _value(row, key)
    if not isinstance(history, list):
        return ()
    pairs = []
    for i, turn in enumerate(history):
        if (
            not isinstance(turn, list | tuple)
            or len(turn) != 2
            or not all(isinstance(text, str) for text in turn)
        ):
            raise RowProblem(
                f"{key}[{i}]",
                f"history turn {i} is {_short(turn)}",
                'write each history turn as ["earlier question", "earlier answer"]',
            )
        pairs.append((turn[0], turn[1]))
    return tuple(pairs)


def _sharegpt(attr: EntryAttr, row: Mapping[str, Any]) -> Turns:
    key = attr.column("messages")
    tags = attr.tags
    role_tag, content_tag = tags["role_tag"], tags["content_tag"]
    messages = _value(row, key)
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise RowProblem(
            key,
            f"{key} is {_short(messages)}, not a list of messages",
            f'write {key} as [{{"{role_tag}": "{tags["user_tag"]}", "{content_tag}": "..."}}, '
            "...], or map columns.messages to the row key holding them",
        )
    offset = 0
    system = _value(row, attr.column("system"))
    if tags["system_tag"] and messages and messages[0].get(role_tag) == tags["system_tag"]:
        system = _content(messages[0], content_tag, f"{key}[0]")
        offset = 1
    turns = []
    for i, message in enumerate(messages[offset:], start=offset):
        expected = "user_tag" if (i - offset) % 2 == 0 else "assistant_tag"
        _check_role(message.get(role_tag), expected, tags, f"{key}[{i}].{role_tag}")
        turns.append(_content(message, content_tag, f"{key}[{i}]"))
    if attr.ranking:
        if len(turns) % 2 == 0:
            raise RowProblem(
                key,
                f"ranking rows end with a user turn, and this one has {len(turns)} turns",
                "end the messages with the question; put the answers in chosen and rejected",
            )
        answers = {name: _answer_message(attr, row, name) for name in ("chosen", "rejected")}
        return Turns(system, _pairs(turns[:-1]), turns[-1], **answers)
    if len(turns) % 2 == 1 or not turns:
        raise RowProblem(
            key,
            f"SFT rows end with an assistant turn, and this one has {len(turns)} turns",
            "give every question its answer (user and assistant turns alternate)",
        )
    return Turns(system, _pairs(turns[:-2]), turns[-2], response=turns[-1])


def _check_role(role: Any, expected: str, tags: Mapping[str, str | None], field: str) -> None:
    if role == tags[expected]:
        return
    if role is not None and role in (tags["observation_tag"], tags["function_tag"]):
        raise RowProblem(
            field,
            f"the role {role!r} is a tool turn; the studio trains without tools",
            "remove tool turns from the conversation, or train it in LLaMA-Factory",
        )
    raise RowProblem(
        field,
        f"the role is {role!r} where the {expected.split('_')[0]} turn ({tags[expected]!r}) "
        "comes; LLaMA-Factory would skip this row",
        "let user and assistant turns alternate, starting with the user, or set the "
        'role names in "tags"',
    )


def _answer_message(attr: EntryAttr, row: Mapping[str, Any], name: str) -> str:
    key = attr.column(name)
    message = _value(row, key)
    tags = attr.tags
    if not isinstance(message, dict):
        raise RowProblem(
            key,
            f"{name} is {_short(message)}, not a message",
            f'write {name} as {{"{tags["role_tag"]}": "{tags["assistant_tag"]}", '
            f'"{tags["content_tag"]}": "..."}}',
        )
    _check_role(message.get(tags["role_tag"]), "assistant_tag", tags, f"{key}.{tags['role_tag']}")
    return _content(message, tags["content_tag"], str(key))


def _content(message: Mapping[str, Any], content_tag: str | None, field: str) -> str:
    content = message.get(content_tag) if content_tag else None
    if not isinstance(content, str):
        raise RowProblem(
            f"{field}.{content_tag}",
            f"the message has no text under {content_tag!r}",
            "give every message its text, or set content_tag in tags",
        )
    return content


def _pairs(turns: list[str]) -> tuple[tuple[str, str], ...]:
    return tuple((turns[i], turns[i + 1]) for i in range(0, len(turns), 2))


def _value(row: Mapping[str, Any], key: str | None) -> Any:
    return row.get(key) if key else None


def _string(row: Mapping[str, Any], key: str | None) -> str | None:
    value = _value(row, key)
    return value if isinstance(value, str) else None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
