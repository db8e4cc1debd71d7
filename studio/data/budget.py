"""Token counting against `cutoff_len`: the chat-rendered prompt plus its answer must fit.

Tokenizing every full prompt of a large import is slow (thousands of prompts that repeat
one schema each). A prompt's count is therefore estimated as the sum of its parts, each
counted once: the chat template's overhead, the instruction without its schema, and the
schema text. Splitting text at these seams changes the count by at most a few tokens, so
prompts whose estimate lies within `EXACT_MARGIN` of the cutoff are counted exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tqdm import tqdm

from studio.data.prompts import build_messages, render_chat

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

ANSWER_END_TOKENS = 2  # the end-of-turn token and the newline a chat template puts after an answer
EXACT_MARGIN = 16
BATCH_SIZE = 512


@dataclass
class TokenBudget:
    """Prompts rendered with `tokenizer`'s chat template must leave room for their answer in
    `cutoff_len`."""

    tokenizer: PreTrainedTokenizerBase
    cutoff_len: int
    _overheads: dict[str, int] = field(default_factory=dict, repr=False)

    def count(
        self, texts: Sequence[str], progress: bool = False, desc: str = "counting tokens"
    ) -> list[int]:
        """Token counts of plain texts (no special tokens added), in batches."""
        counts: list[int] = []
        with tqdm(
            total=len(texts), desc=desc, unit="text", disable=not progress or not texts
        ) as bar:
            for start in range(0, len(texts), BATCH_SIZE):
                batch = list(texts[start : start + BATCH_SIZE])
                counts.extend(
                    len(ids) for ids in self.tokenizer(batch, add_special_tokens=False)["input_ids"]
                )
                bar.update(len(batch))
        return counts

    def answer_tokens(self, answers: Sequence[str]) -> list[int]:
        """Token counts of the answers, end-of-turn included."""
        return [count + ANSWER_END_TOKENS for count in self.count(answers)]

    def chat_overhead(self, system: str) -> int:
        """Tokens the chat template adds around a user message (system line and generation
        prompt)."""
        if system not in self._overheads:
            self._overheads[system] = self.prompt_tokens([self._messages("", system)])[0]
        return self._overheads[system]

    def prompt_tokens(self, message_lists: Sequence[list[dict[str, str]]]) -> list[int]:
        """Exact token counts of chat-rendered prompts (generation prompt included)."""
        return self.count([render_chat(self.tokenizer, messages) for messages in message_lists])

    def fits(
        self,
        estimates: Sequence[int],
        instructions: Sequence[str],
        answers: Sequence[int],
        system: str,
    ) -> list[bool]:
        """Whether each prompt plus answer fits: by its estimate, or exactly when the estimate is
        close."""
        verdicts: list[bool | None] = []
        for estimate, answer in zip(estimates, answers, strict=False):
            total = estimate + answer
            if total <= self.cutoff_len - EXACT_MARGIN:
                verdicts.append(True)
            elif total > self.cutoff_len + EXACT_MARGIN:
                verdicts.append(False)
            else:
                verdicts.append(None)
        close = [i for i, verdict in enumerate(verdicts) if verdict is None]
        exact = self.prompt_tokens([self._messages(instructions[i], system) for i in close])
        for i, count in zip(close, exact, strict=False):
            verdicts[i] = count + answers[i] <= self.cutoff_len
        return [bool(verdict) for verdict in verdicts]

    @staticmethod
    def _messages(instruction: str, system: str) -> list[dict[str, str]]:
        if not instruction:  # the bare template, for its overhead
            return [{"role": "system", "content": system}, {"role": "user", "content": ""}]
        return build_messages({"instruction": instruction, "system": system})
