"""Probe: forward+backward time of the built-in model on one packed 8k-token row, per attention path.

    python bench/gpu/attn_probe.py [--tokens 8192] [--examples 20]
Prints one JSON line per path: sdpa_packed (per-example SDPA loop), varlen (torch varlen_attn,
when this torch has it), whole_row_causal (one SDPA over the row: wrong semantics, the speed bound).
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import torch
from peft import LoraConfig, get_peft_model
from transformers import AttentionInterface, AutoModelForCausalLM

from studio.models import resolve_model_dir
from studio.train.packing import BOUNDS_KEY, packed_sdpa_attention


def varlen_attention(module, query, key, value, attention_mask, dropout=0.0, scaling=None, **kwargs):
    from torch.nn.attention.varlen import varlen_attn

    bounds = torch.tensor(kwargs[BOUNDS_KEY], dtype=torch.int32, device=query.device)
    longest = int(max(b - a for a, b in zip(kwargs[BOUNDS_KEY][:-1], kwargs[BOUNDS_KEY][1:])))
    q, k, v = (t[0].transpose(0, 1) for t in (query, key, value))  # (tokens, heads, dim)
    params = inspect.signature(varlen_attn).parameters
    extra = {"is_causal": True} if "is_causal" in params else {"window_size": (-1, 0)}
    if "scale" in params:
        extra["scale"] = scaling
    if k.shape[1] != q.shape[1]:
        if "enable_gqa" in params:
            extra["enable_gqa"] = True
        else:
            k = k.repeat_interleave(q.shape[1] // k.shape[1], dim=1)
            v = v.repeat_interleave(q.shape[1] // v.shape[1], dim=1)
    out = varlen_attn(q, k, v, bounds, bounds, longest, longest, **extra)
    return out[None], None


def whole_row(module, query, key, value, attention_mask, dropout=0.0, scaling=None, **kwargs):
    out = torch.nn.functional.scaled_dot_product_attention(query, key, value, scale=scaling, is_causal=True,
                                                           enable_gqa=key.shape[1] != query.shape[1])
    return out.transpose(1, 2).contiguous(), None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=8192)
    parser.add_argument("--examples", type=int, default=20)
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    paths = {"sdpa_packed": packed_sdpa_attention, "varlen": varlen_attention, "whole_row_causal": whole_row}
    for name, fn in paths.items():
        AttentionInterface.register(f"probe_{name}", fn)
    folder = resolve_model_dir("builtin:qwen2.5-coder-0.5b-instruct")
    base = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.bfloat16, attn_implementation="sdpa").cuda()
    model = get_peft_model(base, LoraConfig(r=16, lora_alpha=32, target_modules="all-linear"))
    size = args.tokens // args.examples
    bounds = tuple(range(0, args.tokens + 1, size))
    ids = torch.randint(0, 150000, (1, bounds[-1]), device="cuda")
    positions = torch.cat([torch.arange(size) for _ in bounds[:-1]])[None].cuda()
    for name in paths:
        base.set_attn_implementation(f"probe_{name}")
        try:
            times = []
            for _ in range(args.steps):
                torch.cuda.synchronize()
                start = time.perf_counter()
                out = model(input_ids=ids, position_ids=positions, labels=ids, **{BOUNDS_KEY: bounds})
                out.loss.backward()
                torch.cuda.synchronize()
                times.append(time.perf_counter() - start)
            step = sorted(times[1:])[len(times[1:]) // 2]
            print(json.dumps({"path": name, "tokens": bounds[-1], "examples": args.examples, "step_s": round(step, 4),
                              "tokens_per_s": round(bounds[-1] / step), "loss": float(out.loss)}), flush=True)
        except Exception as error:  # noqa: BLE001 - report and go on to the next path
            print(json.dumps({"path": name, "error": f"{type(error).__name__}: {error}"[:300]}), flush=True)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA]) as prof:
        base.set_attn_implementation("probe_sdpa_packed")
        out = model(input_ids=ids, position_ids=positions, labels=ids, **{BOUNDS_KEY: bounds})
        out.loss.backward()
        torch.cuda.synchronize()
    print(prof.key_averages().table(sort_by="cpu_time_total", row_limit=25))


if __name__ == "__main__":
    main()
