"""A training callback for the benchmarks: torch.profiler over the last optimizer step.

Used by bench/bench_sft.py and bench/gpu/bench_moe.py (`--profile TOP`): one table of the
step's TOP operators by their own device time (CPU time on a CPU), where an operator
(`aten::...`) and the kernels it launches both count theirs.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import TrainerCallback


class LastStepProfile(TrainerCallback):
    """torch.profiler over the last optimizer step: the `top` operators by their own device time
    (CPU time on a CPU). The profiled step is left out of the step times."""

    def __init__(self, top: int, device: str) -> None:
        self.top = top
        self.cuda = torch.device(device).type == "cuda"
        self.table: list[dict[str, Any]] = []
        self._profiler: Any = None

    def _own_us(self, event: Any) -> float:
        return event.self_device_time_total if self.cuda else event.self_cpu_time_total

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.global_step == state.max_steps - 1:
            activities = [torch.profiler.ProfilerActivity.CPU]
            if self.cuda:
                activities.append(torch.profiler.ProfilerActivity.CUDA)
            self._profiler = torch.profiler.profile(activities=activities)
            self._profiler.__enter__()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._profiler is None:
            return
        self._profiler.__exit__(None, None, None)
        events = sorted(
            (event for event in self._profiler.key_averages() if self._own_us(event) > 0),
            key=self._own_us,
            reverse=True,
        )
        total = sum(self._own_us(event) for event in events)
        self.table = [{"op": "all", "ms": round(total / 1e3, 2), "calls": None}] + [
            {"op": event.key[:120], "ms": round(self._own_us(event) / 1e3, 2), "calls": event.count}
            for event in events[: self.top]
        ]
        self._profiler = None
