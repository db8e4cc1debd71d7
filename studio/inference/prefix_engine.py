"""The `prefix` generation engine: a decode loop of our own around the model's forward.

Three things the stock `generate` does not do for text-to-SQL prompts:
- prompts that start alike (same instructions and schema) share one prefill of that prefix
  (`studio.inference.prefix_groups`); only each question's own tail is run per prompt, and the n
  samples of a prompt share its whole prefill;
- a finished answer leaves the batch (its rows are dropped from the KV cache), so the
  batch costs what its live answers cost, not what its longest one does;
- an answer stops as soon as `settled(text)` says nothing more can change what is read
  from it (for SQL: its first ```sql block is closed), not only at the end-of-turn token;
- the KV cache is written in place into buffers sized for the batch (no copy of the whole
  cache per step), and decoding attends without repeating key/value heads
  (`studio.patches.decode_attention`, `studio.patches.kv_cache`; installed through
  `studio.patches.registry`).

Greedy answers are the same as `generate`'s (tested); sampling uses temperature and top-p.
`sample_with_prefixes` also returns each answer's token ids (with the end-of-turn token that
ended it) and their log-probabilities under the temperature-scaled distribution, for rollouts.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from studio.inference.prefix_groups import PrefixGroup, group_by_prefix
from studio.patches.registry import decoding_patches

if TYPE_CHECKING:
    import torch

    from studio.inference.settings import GenerationSettings
    from studio.models.loading import LoadedModel

PREFIX_TOKENS_PER_FORWARD = 16384  # prefill budget of one forward over shared prefixes
SETTLED_CHECK_EVERY = 4  # decode steps between `settled` checks
COMPACT_WHEN_DONE = 0.125  # drop finished rows once they are this share of the batch
TOP_P_CANDIDATES = (
    1024  # top-p looks at this many likeliest tokens, all of them only when those fall short
)


@dataclass(frozen=True)
class Sampled:
    """One answer: its text, its token ids (ending with the end-of-turn token when it ended on
    one) and each token's log-probability under softmax(logits / temperature); temperature 0
    scores under the plain softmax."""

    text: str
    token_ids: list[int]
    logprobs: list[float]


@dataclass
class _Prefix:
    """One shared prefix: its KV per layer, (1, kv_heads, length, head_dim) each."""

    length: int
    keys: list[Any] = field(default_factory=list)
    values: list[Any] = field(default_factory=list)


def generate_with_prefixes(
    loaded: LoadedModel,
    encoded: list[list[int]],
    settings: GenerationSettings,
    on_batch: Callable[[list[int], list[list[str]]], None] | None,
    settled: Callable[[str], bool] | None = None,
    on_answered: Callable[[int], None] | None = None,
) -> list[list[str]]:
    """Complete each tokenized prompt `settings.n` times; results in input order.
    `on_answered(count)` gets the number of prompts whose answers are all finished, as they
    finish."""

    def texts(indices: list[int], answers: list[list[Sampled]]) -> None:
        if on_batch is not None:
            on_batch(indices, [[a.text for a in group] for group in answers])

    with decoding_patches(settings, loaded.model):
        results = _generate(
            loaded, encoded, settings, texts, settled, with_logprobs=False, on_answered=on_answered
        )
    return [[answer.text for answer in group] for group in results]


def sample_with_prefixes(
    loaded: LoadedModel, encoded: list[list[int]], settings: GenerationSettings
) -> list[list[Sampled]]:
    """`settings.n` answers per tokenized prompt with their token ids and log-probabilities
    (no early stop: an answer ends on an end-of-turn token or at `max_new_tokens`)."""
    with decoding_patches(settings, loaded.model):
        return _generate(loaded, encoded, settings, None, None, with_logprobs=True)


def _generate(
    loaded: LoadedModel,
    encoded: list[list[int]],
    settings: GenerationSettings,
    on_batch: Callable[[list[int], list[list[Sampled]]], None] | None,
    settled: Callable[[str], bool] | None,
    with_logprobs: bool,
    on_answered: Callable[[int], None] | None = None,
) -> list[list[Sampled]]:
    import torch

    model = loaded.model
    groups = group_by_prefix(encoded)
    prefixes = _compute_prefixes(model, encoded, groups)
    group_of = {index: g for g, group in enumerate(groups) for index in group.members}
    # a group's prompts together, shorter tails first, groups by prefix length: a batch that mixes
    # prefixes mixes ones of similar length, so little of its cache is padding
    order = sorted(
        range(len(encoded)),
        key=lambda i: (groups[group_of[i]].length, group_of[i], len(encoded[i])),
    )
    generator = torch.Generator(device=model.device).manual_seed(settings.seed)
    decoder = _Decoder(loaded, settings, settled, generator, with_logprobs)
    results: list[list[Sampled]] = [[] for _ in encoded]
    for start in range(0, len(order), settings.batch_size):
        indices = order[start : start + settings.batch_size]
        rows = [
            (prefixes[group_of[i]], encoded[i][prefixes[group_of[i]].length :]) for i in indices
        ]
        report = None if on_answered is None else functools.partial(_shifted, on_answered, start)
        completions = decoder.run(rows, report)
        for index, answers in zip(indices, completions, strict=False):
            results[index] = answers
        if on_batch is not None:
            on_batch(indices, completions)
    return results


def _shifted(callback: Callable[[int], None], offset: int, count: int) -> None:
    callback(offset + count)


def _compute_prefixes(
    model: Any, encoded: list[list[int]], groups: list[PrefixGroup]
) -> list[_Prefix]:
    """The KV of every group's shared prefix, right-padded batches under a token budget (no mask
    needed)."""
    import torch

    prefixes = [_Prefix(group.length) for group in groups]
    pending = sorted(
        (g for g, group in enumerate(groups) if group.length > 0), key=lambda g: -groups[g].length
    )
    start = 0
    while start < len(pending):
        longest = groups[pending[start]].length
        count = max(1, PREFIX_TOKENS_PER_FORWARD // longest)
        chunk = pending[start : start + count]
        start += len(chunk)
        ids = torch.zeros((len(chunk), longest), dtype=torch.long)
        for row, g in enumerate(chunk):
            first = encoded[groups[g].members[0]][: groups[g].length]
            ids[row, : len(first)] = torch.tensor(first)
        with torch.inference_mode():
            cache = model(
                input_ids=ids.to(model.device), use_cache=True, logits_to_keep=1
            ).past_key_values
        for row, g in enumerate(chunk):
            length = groups[g].length
            for layer in cache.layers:
                prefixes[g].keys.append(layer.keys[row : row + 1, :, :length].clone())
                prefixes[g].values.append(layer.values[row : row + 1, :, :length].clone())
    return prefixes


@functools.lru_cache(maxsize=4)
def _backtick_tokens(tokenizer: Any) -> frozenset[int]:
    """Token ids whose text holds a backtick: a settled check can only change its answer after one
    (a closing fence). Scanning the vocabulary takes ~0.1 s, so it is done once per tokenizer."""
    vocabulary = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    return frozenset(i for i, piece in enumerate(vocabulary) if piece and "`" in piece)


class _Decoder:
    """Decodes one batch of (prefix, tail) rows to n answers each."""

    def __init__(
        self,
        loaded: LoadedModel,
        settings: GenerationSettings,
        settled: Callable[[str], bool] | None,
        generator: torch.Generator,
        with_logprobs: bool = False,
    ) -> None:
        import torch

        self.model, self.tokenizer, self.settings = loaded.model, loaded.tokenizer, settings
        self.settled, self.generator, self.with_logprobs = settled, generator, with_logprobs
        eos = loaded.model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        if loaded.tokenizer.eos_token_id is not None:
            eos_ids.add(loaded.tokenizer.eos_token_id)
        self.eos = torch.tensor(sorted(eos_ids), device=loaded.model.device)
        self.backtick_tokens = _backtick_tokens(loaded.tokenizer)

    def run(
        self,
        rows: list[tuple[_Prefix, list[int]]],
        on_answered: Callable[[int], None] | None = None,
    ) -> list[list[Sampled]]:
        """The rows' completions; `on_answered(count)` hears how many rows have all their
        answers finished whenever that count grows."""
        import torch

        n, device = self.settings.n, self.model.device
        cache, mask, positions, last_logits = self._prefill(rows)
        if n > 1:
            cache.batch_repeat_interleave(n)
            mask, positions = mask.repeat_interleave(n, 0), positions.repeat_interleave(n, 0)
            last_logits = last_logits.repeat_interleave(n, 0)
        total = len(rows) * n
        tokens: list[list[int]] = [[] for _ in range(total)]
        logprobs: list[list[float]] = [[] for _ in range(total)]
        ended_on: list[int | None] = [None] * total
        done = [False] * total
        to_check: set[int] = set()  # answers that wrote a backtick since their last settled check
        reported = 0  # rows reported answered
        live = torch.arange(total, device=device)  # the answer each cache row belongs to
        logits = last_logits
        for step in range(self.settings.max_new_tokens):
            next_tokens = self._pick(logits)
            ended = torch.isin(next_tokens, self.eos).tolist()
            live_answers = live.tolist()
            picked = self._logprobs(logits, next_tokens) if self.with_logprobs else None
            for row, (answer, token, end) in enumerate(
                zip(live_answers, next_tokens.tolist(), ended, strict=False)
            ):
                if done[answer]:
                    continue
                if picked is not None:
                    logprobs[answer].append(picked[row])
                if end:
                    done[answer] = True
                    ended_on[answer] = token
                else:
                    tokens[answer].append(token)
                    if token in self.backtick_tokens:
                        to_check.add(answer)
            if (
                self.settled is not None
                and to_check
                and step % SETTLED_CHECK_EVERY == SETTLED_CHECK_EVERY - 1
            ):
                self._mark_settled(sorted(to_check), tokens, done)
                to_check.clear()
            finished = [done[a] for a in live_answers]
            if on_answered is not None:
                answered = sum(all(done[k * n : (k + 1) * n]) for k in range(len(rows)))
                if answered > reported:
                    reported = answered
                    on_answered(answered)
            if all(finished) or step == self.settings.max_new_tokens - 1:
                break
            if sum(finished) >= max(1.0, COMPACT_WHEN_DONE * len(live_answers)):
                keep = torch.tensor(
                    [row for row, end in enumerate(finished) if not end], device=device
                )
                cache.batch_select_indices(keep)
                live, mask, positions, next_tokens = (
                    live[keep],
                    mask[keep],
                    positions[keep],
                    next_tokens[keep],
                )
            mask = torch.cat([mask, mask.new_ones((len(live), 1))], dim=1)
            positions = positions + 1
            with torch.inference_mode():
                out = self.model(
                    input_ids=next_tokens[:, None],
                    attention_mask=mask,
                    position_ids=positions[:, None],
                    past_key_values=cache,
                    use_cache=True,
                )
            logits = out.logits[:, -1, :]
        if on_answered is not None and reported < len(rows):
            on_answered(len(rows))  # the rest stopped at max_new_tokens
        texts = self.tokenizer.batch_decode(tokens, skip_special_tokens=True)
        answers = [
            Sampled(text, ids if end is None else [*ids, end], lps)
            for text, ids, end, lps in zip(texts, tokens, ended_on, logprobs, strict=True)
        ]
        return [answers[k * n : (k + 1) * n] for k in range(len(rows))]

    def _logprobs(self, logits: Any, picked: Any) -> list[float]:
        """Log-probability of each row's picked token under softmax(logits / temperature)."""
        import torch

        scores = logits.float() / (self.settings.temperature or 1.0)
        return torch.log_softmax(scores, dim=-1).gather(1, picked[:, None]).squeeze(1).tolist()

    def _prefill(self, rows: list[tuple[_Prefix, list[int]]]) -> tuple[Any, Any, Any, Any]:
        """Cache = each row's prefix (left-padded to the longest); then the tails, left-padded, in
        one forward."""
        import torch

        from studio.patches.kv_cache import growing_cache

        device = self.model.device
        batch, longest_prefix = len(rows), max(prefix.length for prefix, _ in rows)
        longest_tail = max(len(tail) for _, tail in rows)
        mask = torch.zeros((batch, longest_prefix + longest_tail), dtype=torch.long)
        tail_ids = torch.full((batch, longest_tail), self.tokenizer.pad_token_id, dtype=torch.long)
        positions = torch.zeros((batch, longest_tail), dtype=torch.long)
        for row, (prefix, tail) in enumerate(rows):
            mask[row, longest_prefix - prefix.length : longest_prefix] = 1
            mask[row, mask.shape[1] - len(tail) :] = 1
            tail_ids[row, longest_tail - len(tail) :] = torch.tensor(tail)
            positions[row, longest_tail - len(tail) :] = torch.arange(
                prefix.length, prefix.length + len(tail)
            )
        cache = growing_cache(
            self.model.config, longest_prefix + longest_tail + self.settings.max_new_tokens
        )
        if longest_prefix > 0:
            self._fill_prefix_cache(cache, rows, longest_prefix)
        mask, positions = mask.to(device), positions.to(device)
        with torch.inference_mode():
            out = self.model(
                input_ids=tail_ids.to(device),
                attention_mask=mask,
                position_ids=positions,
                past_key_values=cache,
                use_cache=True,
                logits_to_keep=1,
            )
        return cache, mask, positions[:, -1], out.logits[:, -1, :]

    def _fill_prefix_cache(
        self, cache: Any, rows: list[tuple[_Prefix, list[int]]], longest_prefix: int
    ) -> None:
        import torch

        template = next(prefix for prefix, _ in rows if prefix.length > 0)
        by_prefix: dict[int, tuple[_Prefix, list[int]]] = {}
        for row, (prefix, _) in enumerate(rows):
            by_prefix.setdefault(id(prefix), (prefix, []))[1].append(row)
        for layer, (key_template, value_template) in enumerate(
            zip(template.keys, template.values, strict=False)
        ):
            shape = (len(rows), key_template.shape[1], longest_prefix, key_template.shape[3])
            keys, values = key_template.new_zeros(shape), value_template.new_zeros(shape)
            for prefix, members in by_prefix.values():
                if prefix.length == 0:
                    continue
                index = torch.tensor(members, device=keys.device)
                keys[index, :, longest_prefix - prefix.length :] = prefix.keys[layer]
                values[index, :, longest_prefix - prefix.length :] = prefix.values[layer]
            cache.update(keys, values, layer)

    def _pick(self, logits: Any) -> Any:
        """Next token per row: argmax, or a temperature + top-p sample."""
        import torch

        if self.settings.temperature == 0.0:
            return logits.argmax(dim=-1)
        scores = logits.float() / self.settings.temperature
        k = min(TOP_P_CANDIDATES, scores.shape[-1])
        top, top_ids = scores.topk(k, dim=-1)
        # the candidates' probabilities under the full softmax, so "short of top-p" is detected
        # exactly
        probs = torch.exp(top - torch.logsumexp(scores, dim=-1, keepdim=True))
        short = probs.sum(dim=-1) < self.settings.top_p
        if bool(short.any()):  # a flat distribution: sort the whole vocabulary for those rows
            full, full_ids = scores[short].sort(dim=-1, descending=True)
            wide = torch.full(
                (scores.shape[0], scores.shape[1]), float("-inf"), device=scores.device
            )
            wide_ids = torch.zeros_like(wide, dtype=torch.long)
            wide[:, :k], wide_ids[:, :k] = top, top_ids
            wide[short], wide_ids[short] = full, full_ids
            top, top_ids = wide, wide_ids
            probs = torch.exp(top - torch.logsumexp(scores, dim=-1, keepdim=True))
        before = probs.cumsum(dim=-1) - probs  # mass of the likelier tokens
        probs = probs.masked_fill(before >= self.settings.top_p, 0.0)
        choice = torch.multinomial(probs, 1, generator=self.generator)
        return top_ids.gather(1, choice).squeeze(1)

    def _mark_settled(self, answers: list[int], tokens: list[list[int]], done: list[bool]) -> None:
        pending = [answer for answer in answers if not done[answer]]
        texts = self.tokenizer.batch_decode([tokens[a] for a in pending], skip_special_tokens=True)
        for answer, text in zip(pending, texts, strict=False):
            if self.settled(text):
                done[answer] = True
