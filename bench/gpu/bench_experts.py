"""Forward+backward time of one Qwen3-MoE sparse block per experts implementation.

How much does the studio's lean experts function (`studio_grouped_mm`,
studio.patches.moe_experts) save over transformers' `grouped_mm` in LoRA training, where
the experts and router are frozen and only the hidden states need a gradient?

    python bench/gpu/bench_experts.py --tokens 8192 --iters 20
    python bench/gpu/bench_experts.py --impls grouped_mm,studio_grouped_mm,batched_mm --tokens 1024
    python bench/gpu/bench_experts.py --arch tiny-qwen3-moe --device cpu --tokens 256 --iters 3

One sparse block (router + experts) of the architecture, bf16 random weights (std =
initializer_range), built once on the device and shared by every implementation. Each
timed iteration is block(x) and backward of a fixed random output gradient, x being
`tokens` random hidden states. Prints one JSON line per implementation: median and min ms
over `iters` iterations after `warmup`, the peak memory allocated beyond the weights and
inputs, and the max abs difference of the output and of x's gradient from `grouped_mm`
(always run first, as the reference). An out-of-memory run (batched_mm gathers a weight
matrix per token and expert) is reported as status oom.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import torch

from studio.patches.moe_experts import LEAN_EXPERTS, register_lean_experts

REFERENCE = "grouped_mm"
IMPLEMENTATIONS = (REFERENCE, LEAN_EXPERTS, "batched_mm", "eager")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--arch",
        default="qwen3-coder-30b-a3b",
        help="a Qwen3-MoE studio.testing.random_models architecture",
    )
    parser.add_argument(
        "--tokens", type=int, default=8192, help="tokens through the block per iteration"
    )
    parser.add_argument(
        "--impls",
        default=f"{REFERENCE},{LEAN_EXPERTS}",
        help=f"comma-separated, of {', '.join(IMPLEMENTATIONS)} ({REFERENCE} always runs first)",
    )
    parser.add_argument("--iters", type=int, default=20, help="timed iterations")
    parser.add_argument("--warmup", type=int, default=3, help="untimed iterations before them")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    impls = [part.strip() for part in args.impls.split(",") if part.strip()]
    unknown = sorted(set(impls) - set(IMPLEMENTATIONS))
    if unknown:
        parser.error(
            f"unknown implementation(s) {', '.join(unknown)}; use {', '.join(IMPLEMENTATIONS)}"
        )
    args.impls = [REFERENCE, *(impl for impl in dict.fromkeys(impls) if impl != REFERENCE)]
    if args.tokens < 1 or args.iters < 1 or args.warmup < 0:
        parser.error("--tokens and --iters must be >= 1, --warmup >= 0")
    return args


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def build_block(arch: str, device: torch.device) -> tuple[torch.nn.Module, Any]:
    """The frozen bf16 sparse block (random weights) and its config, whose experts setting picks the
    function."""
    from transformers.models.qwen3_moe.modeling_qwen3_moe import Qwen3MoeSparseMoeBlock

    from studio.testing.random_models import random_config

    config = random_config(arch)
    if config.model_type != "qwen3_moe":
        raise SystemExit(f"--arch {arch} is a {config.model_type} model, not Qwen3-MoE")
    with torch.device(device):
        block = Qwen3MoeSparseMoeBlock(config).to(torch.bfloat16)
    for parameter in block.parameters():
        torch.nn.init.normal_(parameter, std=config.initializer_range)
        parameter.requires_grad_(False)
    return block, config


def measure(
    block: torch.nn.Module, x: torch.Tensor, grad_out: torch.Tensor, iters: int, warmup: int
) -> tuple[dict[str, Any], tuple[torch.Tensor, torch.Tensor]]:
    """Time block(x) + backward; the figures and (output, x.grad) of the last iteration."""
    device = x.device

    def step() -> torch.Tensor:
        x.grad = None
        out = block(x)
        out.backward(grad_out)
        return out.detach()

    for _ in range(warmup):
        step()
    sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    base = torch.cuda.memory_allocated(device) if device.type == "cuda" else 0
    times = []
    for _ in range(iters):
        sync(device)
        start = time.perf_counter()
        out = step()
        sync(device)
        times.append((time.perf_counter() - start) * 1000)
    peak = (
        (torch.cuda.max_memory_allocated(device) - base) / 2**20 if device.type == "cuda" else None
    )
    figures = {
        "median_ms": round(statistics.median(times), 3),
        "min_ms": round(min(times), 3),
        "peak_extra_mib": round(peak, 1) if peak is not None else None,
    }
    return figures, (out, x.grad.detach().clone())


def max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a.float() - b.float()).abs().max().item()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import transformers

    register_lean_experts()
    device = torch.device(args.device)
    torch.manual_seed(args.seed)
    block, config = build_block(args.arch, device)
    generator = torch.Generator(device).manual_seed(args.seed)
    shape = (1, args.tokens, config.hidden_size)
    x = torch.randn(
        shape, generator=generator, device=device, dtype=torch.bfloat16
    ).requires_grad_()
    grad_out = torch.randn(shape, generator=generator, device=device, dtype=torch.bfloat16)
    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    reference: tuple[torch.Tensor, torch.Tensor] | None = None
    for impl in args.impls:
        config._experts_implementation = impl
        line: dict[str, Any] = {
            "figure": "moe_experts",
            "experts_implementation": impl,
            "arch": args.arch,
            "tokens": args.tokens,
            "top_k": config.num_experts_per_tok,
            "num_experts": config.num_experts,
            "dtype": "bfloat16",
            "iters": args.iters,
            "warmup": args.warmup,
            "device": device_name,
            "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
        }
        try:
            figures, results = measure(block, x, grad_out, args.iters, args.warmup)
        except torch.OutOfMemoryError as error:
            line.update(status="oom", error=str(error).splitlines()[0][:200])
        else:
            if impl == REFERENCE:
                reference = results
            line.update(status="ok", **figures)
            if reference is not None:
                line.update(
                    max_abs_diff_out=max_diff(results[0], reference[0]),
                    max_abs_diff_grad=max_diff(results[1], reference[1]),
                    ref_max_abs_grad=reference[1].float().abs().max().item(),
                )
        x.grad = None
        if device.type == "cuda":
            torch.cuda.empty_cache()
        print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
