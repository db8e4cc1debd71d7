"""Prompts: the user message (dialect, schema, evidence, question) and its chat rendering.

The user message is what a registered dataset stores as `instruction`; the chat text a
model sees comes from the model's own template (`tokenizer.apply_chat_template`), with
thinking turned off for templates that support it (LLaMA-Factory's `qwen3_nothink`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from studio.errors import StudioError

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from studio.data.registry import Example

SYSTEM_PROMPT = (
    "You are an expert SQL developer. Reply with exactly one SQL query and nothing else."
)
DIALECT_NAMES = {
    "sqlite": "SQLite",
    "mysql": "MySQL",
    "postgresql": "PostgreSQL",
    "postgres": "PostgreSQL",
}


def dialect_name(dialect: str) -> str:
    """The display name of a dialect ("sqlite" -> "SQLite")."""
    return DIALECT_NAMES.get(dialect.lower(), dialect)


def build_instruction(
    question: str, schema_text: str, dialect: str, evidence: str | None = None
) -> str:
    """The user message: the dialect, the schema, the evidence (when any) and the question, last."""
    name = dialect_name(dialect)
    task = (
        f"Write one {name} query that answers the question. The database is {name}, so use {name} "
        "syntax and functions."
    )
    parts = [task, f"Database schema:\n{schema_text}"]
    if evidence and evidence.strip():
        parts.append(f"External knowledge: {evidence.strip()}")
    parts.append(f"Question: {question.strip()}")
    return "\n\n".join(parts)


def build_messages(
    example_or_fields: Example | Mapping[str, Any], default_system: str | None = SYSTEM_PROMPT
) -> list[dict[str, str]]:
    """System, earlier turns and user message for an Example or an Alpaca row (instruction,
    input, system).

    A missing system line (None) becomes `default_system` (training passes the one its
    `template` asks for); an empty one, or no default, leaves the system message out, so the
    chat template applies its own default, as LLaMA-Factory does. An Example's history comes
    before its prompt as user and assistant messages.
    """
    history: tuple[tuple[str, str], ...] = ()
    if isinstance(example_or_fields, Mapping):
        prompt = str(example_or_fields.get("instruction") or "")
        query = example_or_fields.get("input")
        if query:
            prompt = f"{prompt}\n{query}"
        system = example_or_fields.get("system")
    else:
        prompt, system = example_or_fields.prompt, example_or_fields.system
        history = example_or_fields.history
    if not prompt.strip():
        raise StudioError(
            "cannot build a prompt from an empty instruction; fill the row's instruction"
        )
    if system is None:
        system = default_system
    messages = [{"role": "system", "content": system}] if system else []
    for question, answer in history:
        messages.append({"role": "user", "content": question})
        messages.append({"role": "assistant", "content": answer})
    return messages + [{"role": "user", "content": prompt}]


def render_chat(
    tokenizer: PreTrainedTokenizerBase,
    messages: list[dict[str, str]],
    add_generation_prompt: bool = True,
) -> str:
    """The chat text through the model's template; `enable_thinking=False` reaches templates that
    read it."""
    if not tokenizer.chat_template:
        raise StudioError(
            f"the tokenizer {tokenizer.name_or_path} has no chat template; "
            "use an instruct model whose tokenizer_config.json or chat_template.jinja holds one"
        )
    return tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=add_generation_prompt, enable_thinking=False
    )
