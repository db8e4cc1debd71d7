"""Activation memory one decoder layer keeps for its backward, counted exactly on the CPU.

How many layers of the 30B MoE can skip gradient checkpointing depends on what a
layer keeps between its forward and its backward. That is a property of the autograd graph,
not of the device, so it is counted here tensor by tensor (`saved_tensors_hooks` around the
layer's forward; parameters and the layer's input left out, storages counted once) on a
model of the real layer sizes with random bf16 weights and a LoRA on q_proj,k_proj, as in
bench/gpu/bench_moe.py. One JSON line per variant, scaled to `--scale-to` tokens (the count
grows linearly with the tokens; the attention here is the CPU's flash kernel, which keeps
what cuDNN's does: q, k, v, output and log-sum-exp):

    python bench/bench_layer_memory.py --tokens 1024 --scale-to 8192
    python bench/bench_layer_memory.py --tokens 1024 --scale-to 8192 --lora-dropout 0.05

The forward runs under bf16 autocast, as the trainer's does (`bf16: true`): the LoRA adapters'
fp32 weights then keep bf16 copies of their input, not fp32 ones. Variants: `grouped_mm`
(transformers' experts, transformers' RMSNorm), `studio_grouped_mm` (the studio's experts;
frozen weights keep only the gate/up output), `+lean_norms` (plus the RMSNorm of
studio.patches.rms_norm) and `+recompute_projections` (the frozen experts keep only their
input, studio.patches.moe_experts.recompute_input_projections): the last is what a layer kept
by `gradient_checkpointing_skip_layers` gets.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import torch

VARIANTS = (
    "grouped_mm",
    "studio_grouped_mm",
    "studio_grouped_mm+lean_norms",
    "studio_grouped_mm+lean_norms+recompute_projections",
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--arch", default="qwen3-coder-30b-a3b", help="a studio.testing.random_models architecture"
    )
    parser.add_argument("--tokens", type=int, default=1024, help="tokens in the one example")
    parser.add_argument(
        "--scale-to", type=int, default=8192, help="report the bytes scaled to this many tokens"
    )
    parser.add_argument(
        "--lora-dropout",
        type=float,
        default=0.0,
        help="the LoRA adapters' dropout (it adds the dropped copy of their input)",
    )
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def one_layer_model(arch: str, lora_dropout: float = 0.0) -> Any:
    """The architecture cut to one decoder layer, random bf16 weights, frozen, LoRA r8 on
    q_proj,k_proj."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from studio.testing.random_models import random_config

    config = random_config(arch)
    config.num_hidden_layers = 1
    model = AutoModelForCausalLM.from_config(
        config, dtype=torch.bfloat16, attn_implementation="sdpa"
    )
    model.config.use_cache = False
    return get_peft_model(
        model,
        LoraConfig(
            r=8, lora_alpha=16, lora_dropout=lora_dropout, target_modules=["q_proj", "k_proj"]
        ),
    )


class KeptBytes:
    """Counts the storages autograd saves while the layer runs its forward (pre/post hooks)."""

    def __init__(self, layer: torch.nn.Module) -> None:
        self.parameters = {p.untyped_storage().data_ptr() for p in layer.parameters()}
        self.storages: dict[int, int] = {}
        self.excluded: set[int] = set()
        self._hooks: Any = None
        layer.register_forward_pre_hook(self._start, with_kwargs=True)
        layer.register_forward_hook(self._stop, with_kwargs=True)

    def _start(
        self, module: torch.nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        inputs = [*args, *kwargs.values()]
        self.excluded = self.parameters | {
            t.untyped_storage().data_ptr() for t in inputs if torch.is_tensor(t)
        }
        self.storages = {}
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, lambda tensor: tensor)
        self._hooks.__enter__()

    def _stop(self, module: torch.nn.Module, args: Any, kwargs: Any, output: Any) -> None:
        self._hooks.__exit__(None, None, None)

    def _pack(self, tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in self.excluded:
            self.storages[storage.data_ptr()] = storage.nbytes()
        return tensor


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from studio.patches.moe_experts import recompute_input_projections, register_lean_experts
    from studio.patches.partial_checkpointing import decoder_layers
    from studio.patches.rms_norm import lean_rms_norms

    register_lean_experts()
    torch.manual_seed(args.seed)
    model = one_layer_model(args.arch, args.lora_dropout)
    (layer,) = decoder_layers(model)
    counter = KeptBytes(layer)
    ids = torch.randint(
        0, 151_643, (1, args.tokens), generator=torch.Generator().manual_seed(args.seed)
    )
    for variant in VARIANTS:
        experts, *levers = variant.split("+")
        model.set_experts_implementation(experts)
        if "lean_norms" in levers:
            lean_rms_norms(layer)
        if "recompute_projections" in levers:
            recompute_input_projections(layer)
        model.enable_input_require_grads()
        with torch.autocast("cpu", dtype=torch.bfloat16):  # the trainer's bf16 autocast
            model(input_ids=ids)
        kept = sum(counter.storages.values())
        print(
            json.dumps(
                {
                    "figure": "layer_kept_bytes",
                    "arch": args.arch,
                    "variant": variant,
                    "tokens": args.tokens,
                    "lora_dropout": args.lora_dropout,
                    "kept_bytes": kept,
                    "kept_mib": round(kept / 2**20, 1),
                    "scaled_to": args.scale_to,
                    "kept_gib_scaled": round(kept * args.scale_to / args.tokens / 2**30, 3),
                    "device": "cpu",
                }
            ),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
