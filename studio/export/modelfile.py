"""An Ollama Modelfile for an exported GGUF: its ChatML template, system prompt and stop tokens.

The TEMPLATE is Ollama's Go-template form of the model's own chat template, found by rendering
that template (thinking off, as the studio prompts) and checking it is ChatML: the system turn,
the user turn, then the assistant turn opened with whatever the template adds there (Qwen3's
empty think block). The studio answers greedily, so the Modelfile sets temperature 0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from studio.errors import StudioError

MODELFILE_NAME = "Modelfile"
IM_START, IM_END = "<|im_start|>", "<|im_end|>"
PROBE_SYSTEM, PROBE_USER = "SYSTEM-PROBE", "USER-PROBE"


@dataclass(frozen=True)
class ChatML:
    """What a ChatML chat template adds to the assistant turn it opens, and the system prompt it
    applies when a conversation has none (None: it applies none)."""

    assistant_prefix: str
    default_system: str | None


def _turn(role: str, content: str) -> str:
    return f"{IM_START}{role}\n{content}{IM_END}\n"


def chatml_of(tokenizer: Any) -> ChatML:
    """The tokenizer's chat template read as ChatML, or a StudioError when it is not ChatML."""
    from studio.data.prompts import render_chat

    not_chatml = StudioError(
        "the model's chat template is not ChatML (<|im_start|>role ... <|im_end|>), the only "
        "form the Modelfile's TEMPLATE is written for; export without --modelfile and write the "
        "TEMPLATE by hand"
    )
    system = {"role": "system", "content": PROBE_SYSTEM}
    user = {"role": "user", "content": PROBE_USER}
    head = _turn("system", PROBE_SYSTEM) + _turn("user", PROBE_USER) + f"{IM_START}assistant\n"
    full = render_chat(tokenizer, [system, user])
    if not full.startswith(head) or "{{" in full[len(head) :]:
        raise not_chatml
    prefix = full[len(head) :]
    alone = render_chat(tokenizer, [user])
    tail = _turn("user", PROBE_USER) + f"{IM_START}assistant\n{prefix}"
    if not alone.endswith(tail):
        raise not_chatml
    before = alone[: -len(tail)]
    if not before:
        return ChatML(prefix, None)
    match = re.fullmatch(
        re.escape(IM_START) + r"system\n(.*)" + re.escape(IM_END) + "\n", before, re.S
    )
    if match is None:
        raise not_chatml
    return ChatML(prefix, match.group(1))


def ollama_template(chatml: ChatML) -> str:
    """The Go template Ollama renders a conversation with, turn by turn."""
    return (
        f"{{{{ if .System }}}}{IM_START}system\n{{{{ .System }}}}{IM_END}\n{{{{ end }}}}"
        f"{{{{ if .Prompt }}}}{IM_START}user\n{{{{ .Prompt }}}}{IM_END}\n{{{{ end }}}}"
        f"{IM_START}assistant\n{chatml.assistant_prefix}{{{{ .Response }}}}{IM_END}\n"
    )


def _quoted(text: str, what: str) -> str:
    if '"""' in text:
        raise StudioError(
            f'the {what} holds """, which an Ollama Modelfile cannot quote; remove it'
        )
    return f'"""{text}"""'


def render_modelfile(gguf_name: str, tokenizer: Any, system: str) -> str:
    """The Modelfile text: FROM the GGUF beside it, TEMPLATE, SYSTEM (`system`, or the chat
    template's default when `system` is empty), PARAMETER stop tokens and temperature 0."""
    chatml = chatml_of(tokenizer)
    applied = system or chatml.default_system
    stops = list(dict.fromkeys([IM_END, tokenizer.eos_token or IM_END]))
    lines = [f"FROM ./{gguf_name}", f"TEMPLATE {_quoted(ollama_template(chatml), 'chat template')}"]
    if applied:
        lines.append(f"SYSTEM {_quoted(applied, 'system prompt')}")
    lines += [f'PARAMETER stop "{stop}"' for stop in stops]
    lines.append("PARAMETER temperature 0")
    return "\n".join(lines) + "\n"
