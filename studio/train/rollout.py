"""GRPO rollouts through the studio's prefix engine: TRL's `rollout_func` hook.

TRL hands the generation batch's prompts (each question repeated once per answer it wants) to
`PrefixRollout(prompts, trainer)`. The prompts are rendered with the chat template (thinking
off), the questions that share a schema share one prefill (studio.inference.prefix_engine),
and the current policy samples with its LoRA applied unmerged (the trained PEFT model itself, in
eval mode, so nothing is merged or copied per step). It returns the prompt and answer token ids
(an answer keeps the end-of-turn token it ended on) and each answer token's log-probability.
The whole generation batch (`steps_per_generation` micro-batches) is decoded in one batch, up
to ROLLOUT_MAX_SEQUENCES answers. When TRL evaluates the held-out questions (`val_size`; the
trainer's model then is in eval mode) each gets its greedy answer.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from studio.inference.settings import GenerationSettings
from studio.models.loading import LoadedModel

# most sequences (questions x their answers) decoded together. A rollout decodes all its
# questions at once up to this: decoding reads every weight once per token, so small batches are
# latency-bound (docs/PERFORMANCE.md, "GRPO rollouts"); 1,024 is the batch `eval --vote 8`
# samples with at 128 questions a batch.
ROLLOUT_MAX_SEQUENCES = 1024


def decode_batch_questions(questions: int, answers: int) -> int:
    """Questions per decode batch: all of them, up to ROLLOUT_MAX_SEQUENCES sequences (at least
    one question, however many answers it wants)."""
    return max(1, min(questions, ROLLOUT_MAX_SEQUENCES // answers))


@dataclass
class RolloutTally:
    """What the rollouts since the last drain sampled, and how long they took."""

    rollouts: int = 0
    questions: int = 0
    tokens: int = 0
    seconds: float = 0.0


class PrefixRollout:
    """The rollout function; `drain()` gives its tally since the last call."""

    def __init__(
        self,
        tokenizer: Any,
        max_completion_length: int,
        temperature: float,
        top_p: float,
        seed: int,
        chat_template_kwargs: dict[str, Any],
    ) -> None:
        self.tokenizer = tokenizer
        self.max_completion_length, self.temperature, self.top_p = (
            max_completion_length,
            temperature,
            top_p,
        )
        self.seed, self.chat_template_kwargs = seed, chat_template_kwargs
        self.tally = RolloutTally()

    def __call__(self, prompts: Sequence[Any], trainer: Any) -> dict[str, list[Any]]:
        model = trainer.accelerator.unwrap_model(trainer.model)
        if not trainer.model.training:  # TRL evaluates the held-out questions
            return self.sample(model, prompts, trainer.state.global_step, greedy=True)
        return self.sample(model, prompts, trainer.state.global_step)

    def encode(self, prompt: Any) -> list[int]:
        """A prompt's token ids: chat messages rendered with the generation prompt, or text."""
        if isinstance(prompt, str):
            return self.tokenizer(prompt, add_special_tokens=False)["input_ids"]
        return list(
            self.tokenizer.apply_chat_template(
                prompt,
                tokenize=True,
                add_generation_prompt=True,
                return_dict=True,
                **self.chat_template_kwargs,
            )["input_ids"]
        )

    def sample(
        self, model: Any, prompts: Sequence[Any], step: int, greedy: bool = False
    ) -> dict[str, list[Any]]:
        """One answer per entry of `prompts` (equal prompts share a question's samples); with
        `greedy`, each the greedy answer, and the tally left as it was (it counts rollouts)."""
        import torch

        from studio.inference.prefix_engine import sample_with_prefixes

        started = time.monotonic()
        encoded = [self.encode(p) for p in prompts]
        unique: dict[tuple[int, ...], int] = {}
        for ids in encoded:
            unique.setdefault(tuple(ids), len(unique))
        wanted = [0] * len(unique)
        for ids in encoded:
            wanted[unique[tuple(ids)]] += 1
        answers = 1 if greedy else max(wanted)
        settings = GenerationSettings(
            max_new_tokens=self.max_completion_length,
            temperature=0.0 if greedy else self.temperature,
            top_p=1.0 if greedy else self.top_p,
            n=answers,
            batch_size=decode_batch_questions(len(unique), answers),
            seed=self.seed + step,
        )
        loaded = LoadedModel(model, self.tokenizer, ref="policy", adapters=(), merged=False)
        training = model.training
        model.eval()
        try:
            with torch.no_grad():
                groups = sample_with_prefixes(loaded, [list(k) for k in unique], settings)
        finally:
            model.train(training)
        taken = [0] * len(unique)
        completion_ids, logprobs = [], []
        for ids in encoded:
            question = unique[tuple(ids)]
            answer = groups[question][0 if greedy else taken[question]]
            taken[question] += 1
            completion_ids.append(answer.token_ids)
            logprobs.append(answer.logprobs)
        if not greedy:
            self.count(len(unique), completion_ids, time.monotonic() - started)
        return {"prompt_ids": encoded, "completion_ids": completion_ids, "logprobs": logprobs}

    def count(self, questions: int, completion_ids: Sequence[list[int]], seconds: float) -> None:
        """Add one rollout to the tally."""
        self.tally.rollouts += 1
        self.tally.questions += questions
        self.tally.tokens += sum(len(ids) for ids in completion_ids)
        self.tally.seconds += seconds

    def drain(self) -> RolloutTally:
        """The tally since the last drain (then a fresh one)."""
        tally, self.tally = self.tally, RolloutTally()
        return tally
