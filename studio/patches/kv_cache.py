"""A KV cache for the prefix engine: buffers sized for the batch, appended in place.

transformers' DynamicCache concatenates every layer's keys and values at every step, a
copy of the whole cache per token; these layers write the new token into a buffer sized
once (prompt + longest answer) and hand out views.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import DynamicCache, PreTrainedConfig
from transformers.cache_utils import DynamicLayer


class GrowingLayer(DynamicLayer):
    """Keys and values in preallocated buffers of `capacity` tokens; `keys`/`values` are views."""

    def __init__(self, capacity: int) -> None:
        super().__init__()
        self.capacity, self.length = capacity, 0

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.is_initialized:
            shape = (key_states.shape[0], key_states.shape[1], self.capacity, key_states.shape[3])
            self.key_buffer, self.value_buffer = (
                key_states.new_empty(shape),
                value_states.new_empty(shape),
            )
            self.dtype, self.device, self.is_initialized = key_states.dtype, key_states.device, True
        added = key_states.shape[-2]
        if self.length + added > self.capacity:
            raise RuntimeError(
                f"decode cache full: {self.length} + {added} > {self.capacity} tokens"
            )
        self.key_buffer[:, :, self.length : self.length + added] = key_states
        self.value_buffer[:, :, self.length : self.length + added] = value_states
        self.length += added
        self._refresh()
        return self.keys, self.values

    def batch_repeat_interleave(self, repeats: int) -> None:
        if self.is_initialized:
            self.key_buffer = self.key_buffer.repeat_interleave(repeats, dim=0)
            self.value_buffer = self.value_buffer.repeat_interleave(repeats, dim=0)
            self._refresh()

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        if self.is_initialized:
            self.key_buffer, self.value_buffer = (
                self.key_buffer[indices],
                self.value_buffer[indices],
            )
            self._refresh()

    def _refresh(self) -> None:
        self.keys = self.key_buffer[:, :, : self.length]
        self.values = self.value_buffer[:, :, : self.length]


def growing_cache(config: PreTrainedConfig, capacity: int) -> DynamicCache:
    """A DynamicCache whose layers are GrowingLayers (left as they are for models with sliding
    layers)."""
    cache = DynamicCache(config=config)
    if all(type(layer) is DynamicLayer for layer in cache.layers):
        cache.layers = [GrowingLayer(capacity) for _ in cache.layers]
    return cache
