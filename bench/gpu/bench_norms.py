"""Forward and forward+backward time of one Qwen RMSNorm, transformers' against the studio's lean
one.

The norms of a Qwen3-30B-A3B decoder layer at 8 k tokens: input and post-attention norms over
[8192, 2048], the per-head query and key norms over [8192, 32, 128] and [8192, 4, 128]. The
studio gives every model it trains the lean forward of studio.patches.rms_norm (torch's fused
kernel on CUDA); this measures what that saves per norm and how far its output and input
gradient are from transformers' (bf16, random input, weight near 1):

    python bench/gpu/bench_norms.py --iters 50
    python bench/gpu/bench_norms.py --device cpu --tokens 256 --iters 3

One JSON line per (shape, implementation): median ms forward and forward+backward, the
fraction of output elements that differ from transformers' and the largest input-gradient
difference relative to the largest gradient.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import torch
from transformers.models.qwen3_moe.modeling_qwen3_moe import Qwen3MoeRMSNorm

from studio.patches.rms_norm import lean_rms_norms

EPS = 1e-6


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tokens", type=int, default=8192)
    parser.add_argument("--iters", type=int, default=50, help="timed iterations (median reported)")
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args(argv)
    if args.tokens < 1 or args.iters < 1:
        parser.error("--tokens and --iters must be >= 1")
    return args


def median_ms(run: Callable[[], object], device: torch.device, iters: int) -> float:
    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(3):
        run()
    times = []
    for _ in range(iters):
        sync()
        start = time.perf_counter()
        run()
        sync()
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 4)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    device = torch.device(args.device)
    generator = torch.Generator(device=device).manual_seed(0)
    shapes = {
        "hidden": (args.tokens, 2048),
        "query heads": (args.tokens, 32, 128),
        "key heads": (args.tokens, 4, 128),
    }
    for name, shape in shapes.items():
        x = torch.randn(shape, device=device, generator=generator).bfloat16().requires_grad_()
        grad_out = torch.randn(shape, device=device, generator=generator).bfloat16()
        norms = {
            impl: Qwen3MoeRMSNorm(shape[-1], eps=EPS)
            .to(device, torch.bfloat16)
            .requires_grad_(False)
            for impl in ("transformers", "studio")
        }
        for norm in norms.values():
            torch.nn.init.normal_(norm.weight, mean=1.0, std=0.1, generator=generator)
        norms["studio"].weight.copy_(norms["transformers"].weight)
        lean_rms_norms(norms["studio"])
        reference_out = norms["transformers"](x)
        (reference_grad,) = torch.autograd.grad(reference_out, x, grad_out)
        for impl, norm in norms.items():
            out = norm(x)
            (grad,) = torch.autograd.grad(out, x, grad_out)
            line = {
                "figure": "rms_norm",
                "shape": name,
                "size": list(shape),
                "implementation": impl,
                "forward_ms": median_ms(lambda norm=norm, x=x: norm(x), device, args.iters),
                "forward_backward_ms": median_ms(
                    lambda norm=norm, x=x, grad_out=grad_out: torch.autograd.grad(
                        norm(x), x, grad_out
                    ),
                    device,
                    args.iters,
                ),
                "out_differs_fraction": (out != reference_out).float().mean().item(),
                "grad_max_rel_diff": (
                    (grad.float() - reference_grad.float()).abs().max()
                    / reference_grad.float().abs().max()
                ).item(),
                "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
                "torch": torch.__version__,
            }
            print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
