"""LoRA SFT of the Qwen3-Coder-30B-A3B architecture (random bf16 weights) at long context.

The reference workflow's model: does the studio's SFT path (TrainConfig ->
`studio.train.sft.build_sft_trainer`, i.e. TRL's SFTTrainer with its fused, chunked LM
head) train this model on one 80 GB H100 at long context, and how fast, compared with the
reference's plain transformers + PEFT loop on the same device?

    python bench/gpu/bench_moe.py --lengths 4096,8192,16384,32768,65536 --steps 4 --mode both
    python bench/gpu/bench_moe.py --arch tiny-qwen3-moe --device cpu --lengths 64,128 --steps 3 \
                                  --mode both
    python bench/gpu/bench_moe.py --lengths 8192,32768 --mode studio --skip-layers 0,8,16
    python bench/gpu/bench_moe.py --lengths 8192 --steps 4 --mode studio --skip-layers 48 \
                                  --profile 30

The model is built once per process, directly on the device with random weights (never
saved: 57 GB), and reused for every (mode, length, skip): each run adds a fresh LoRA
(r8, alpha 16, q_proj,k_proj) and removes it afterwards. Every example is `length` random
tokens, batch 1, loss on every token, gradient checkpointing on: in studio mode the last
`skip` decoder layers keep their activations (`gradient_checkpointing_skip_layers`, one run
per value of --skip-layers), the plain loop checkpoints every layer. The experts run what
each side would: the studio's choice (`experts_implementation: auto`, the lean
`studio_grouped_mm` of studio.patches.moe_experts) and, for the plain loop, transformers'
`grouped_mm`. Prints one JSON line per (mode, length, skip): tokens/s over the timed steps
(the first step is warm-up), peak allocated memory, the experts implementation, status
ok | oom.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import itertools
import json
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
for folder in (REPO_ROOT, REPO_ROOT / "bench"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import torch
from step_profile import LastStepProfile
from transformers import TrainerCallback

from studio.patches.moe_experts import RECOMPUTE_INPUT_PROJECTION

LORA_RANK = 8
LORA_ALPHA = 16
LORA_TARGET = ["q_proj", "k_proj"]
LEARNING_RATE = 1e-4
TOKENIZER_REF = "builtin:qwen2.5-coder-0.5b-instruct"
# first special token of the Qwen vocabulary: random tokens stay below it
REGULAR_TOKENS = 151_643


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--arch", default="qwen3-coder-30b-a3b", help="a studio.testing.random_models architecture"
    )
    parser.add_argument(
        "--lengths",
        default="4096,8192,16384,32768,65536",
        help="comma-separated sequence lengths (tokens per example)",
    )
    parser.add_argument(
        "--steps", type=int, default=4, help="optimizer steps per length; the first is warm-up"
    )
    parser.add_argument("--mode", choices=("studio", "plain", "both"), default="both")
    parser.add_argument(
        "--offload", action="store_true", help="studio mode: activation_offloading: true"
    )
    parser.add_argument(
        "--skip-layers",
        default="0",
        help="studio mode: comma-separated gradient_checkpointing_skip_layers values, one run each",
    )
    parser.add_argument("--device", default="cuda")
    parser.add_argument(
        "--tokenizer",
        default=TOKENIZER_REF,
        help="model reference or folder whose tokenizer the studio trainer gets",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="TOP",
        help="studio mode: profile the last step (left out of tokens/s), print its TOP operators "
        "by device time",
    )
    args = parser.parse_args(argv)
    args.lengths = [int(part) for part in args.lengths.split(",") if part.strip()]
    args.skip_layers = [int(part) for part in args.skip_layers.split(",") if part.strip()]
    if args.steps < (3 if args.profile else 1) or not args.lengths or min(args.lengths) < 16:
        parser.error("--steps must be >= 1 (>= 3 with --profile) and every length >= 16")
    if not args.skip_layers or min(args.skip_layers) < 0:
        parser.error("--skip-layers must list integers >= 0")
    return args


def is_cuda(device: str) -> bool:
    return torch.device(device).type == "cuda"


def sync(device: str) -> None:
    if is_cuda(device):
        torch.cuda.synchronize()


def build_model(arch: str, device: str) -> torch.nn.Module:
    """The random-weight bf16 model, made directly on `device` (sdpa; grouped_mm experts on
    CUDA)."""
    from transformers import AutoModelForCausalLM

    from studio.testing.random_models import random_config

    kwargs: dict[str, Any] = {"dtype": torch.bfloat16, "attn_implementation": "sdpa"}
    if is_cuda(device):
        kwargs["experts_implementation"] = "grouped_mm"
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(random_config(arch), **kwargs)
    return model


def load_tokenizer(ref: str) -> Any:
    from studio.models.references import load_tokenizer as studio_tokenizer

    return studio_tokenizer(ref, padding_side="right")


def random_examples(count: int, length: int, vocab: int, seed: int) -> list[list[int]]:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(
        0, min(vocab, REGULAR_TOKENS), (count, length), generator=generator
    ).tolist()


class StepTimer(TrainerCallback):
    """Wall time of each optimizer step (device synchronized); keeps the run from saving
    checkpoints."""

    def __init__(self, device: str) -> None:
        self.device = device
        self.times: list[float] = []
        self._start = 0.0

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        sync(self.device)
        self._start = time.perf_counter()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        sync(self.device)
        self.times.append(time.perf_counter() - self._start)
        control.should_save = (
            False  # a benchmark keeps no checkpoint (the final-step save included)
        )
        return control


@contextlib.contextmanager
def restored_model_state(model: torch.nn.Module, experts: str | None = None) -> Iterator[None]:
    """Run with `experts` as the experts implementation (when given), then undo what the run left
    on the shared base model: that setting, the forwards patched on modules (TRL's fused LM head,
    lean RMSNorms), the experts' recompute flag, TRL's MoE router settings, PEFT's bookkeeping and
    the input-grad hook, so each run starts alike."""
    saved_experts = model.get_experts_implementation()
    if experts is not None:
        model.set_experts_implementation(experts)
    text_config = model.config.get_text_config()
    saved = {
        key: getattr(text_config, key)
        for key in ("output_router_logits", "router_aux_loss_coef")
        if hasattr(text_config, key)
    }
    # instance attributes a run sets: forwards (TRL's fused LM head on the model, the lean RMSNorms)
    # and the kept layers' experts' recompute flag
    patched = ("forward", RECOMPUTE_INPUT_PROJECTION)
    had = {
        (id(module), name)
        for module in model.modules()
        for name in patched
        if name in module.__dict__
    }
    try:
        yield
    finally:
        for key, value in saved.items():
            setattr(text_config, key, value)
        for module in model.modules():
            for name in patched:
                if (id(module), name) not in had:
                    module.__dict__.pop(name, None)
        for attribute in ("peft_config", "_hf_peft_config_loaded"):
            model.__dict__.pop(attribute, None)
        with contextlib.suppress(Exception):
            model.disable_input_require_grads()
        model.zero_grad(set_to_none=True)
        model.set_experts_implementation(saved_experts)


def unwrap_lora(wrapped: Any, base: torch.nn.Module) -> None:
    """Remove the LoRA layers PEFT put into `base` (the same module object is trained again
    next)."""
    from peft import PeftModel

    if isinstance(wrapped, PeftModel):
        unloaded = wrapped.unload()
        if unloaded is not base:
            raise RuntimeError("PEFT unload returned a different module than the base model")
    leftover = [name for name, _ in base.named_modules() if "lora_" in name]
    if leftover:
        raise RuntimeError(f"LoRA modules left on the base model after unload: {leftover[:3]}")


def studio_config(
    length: int, steps: int, offload: bool, bf16: bool = True, skip_layers: int = 0
) -> Any:
    """The run's TrainConfig, the last `skip_layers` decoder layers kept out of gradient
    checkpointing. `bf16` is off only on CPU, where transformers refuses bf16 autocast unless
    `use_cpu` is set, which the studio's TrainingArguments never do (the weights stay bf16)."""
    from studio.train.config import config_from_mapping

    return config_from_mapping(
        {
            "dataset": "random-tokens",  # the trainer gets the token rows directly
            "lora_rank": LORA_RANK,
            "lora_alpha": LORA_ALPHA,
            "lora_target": ",".join(LORA_TARGET),
            "bf16": bf16,
            "gradient_checkpointing": True,
            "flash_attn": "sdpa",
            "per_device_train_batch_size": 1,
            "gradient_accumulation_steps": 1,
            "cutoff_len": length,
            "max_steps": steps,
            "logging_steps": 1,
            "save_steps": 1_000_000_000,
            "learning_rate": LEARNING_RATE,
            "activation_offloading": offload,
            "gradient_checkpointing_skip_layers": skip_layers,
        },
        source="bench_moe",
    )


def run_studio(
    model: torch.nn.Module,
    tokenizer: Any,
    cfg: Any,
    experts: str | None,
    device: str,
    seed: int,
    profile: LastStepProfile | None = None,
) -> list[float]:
    """`cfg.max_steps` optimizer steps through the studio's SFT trainer, the experts running
    `experts`; the wall time of each (`profile`, when given, records the last step)."""
    from datasets import Dataset

    from studio.patches.registry import install_on_model
    from studio.train.policy import Policy, lora_config
    from studio.train.sft import build_sft_trainer

    length, steps = cfg.cutoff_len, cfg.max_steps
    rows = random_examples(steps, length, model.config.get_text_config().vocab_size, seed)
    dataset = Dataset.from_dict({"input_ids": rows})
    timer = StepTimer(device)
    trainer = None
    with (
        tempfile.TemporaryDirectory(prefix="bench-moe-") as run_dir,
        restored_model_state(model, experts),
    ):
        try:
            install_on_model(cfg, model)  # as studio.train.policy.load_base does
            policy = Policy(
                model=model, peft_config=lora_config(cfg, model), reference="none (SFT)"
            )
            callbacks = [timer] if profile is None else [timer, profile]
            trainer, _ = build_sft_trainer(
                cfg, Path(run_dir), tokenizer, dataset, None, callbacks, policy=policy
            )
            trainer.train()
        finally:
            wrapped = trainer.model if trainer is not None else model
            if trainer is not None:
                trainer.accelerator.free_memory()
            del trainer
            unwrap_lora(wrapped, model)
            del wrapped
    return timer.times[:-1] if profile is not None else timer.times


def run_plain(
    model: torch.nn.Module, length: int, steps: int, experts: str | None, device: str, seed: int
) -> list[float]:
    """The reference's loop: PEFT LoRA, gradient checkpointing, model(labels=x).loss, AdamW; the
    experts running `experts`."""
    from peft import LoraConfig, get_peft_model

    rows = torch.tensor(
        random_examples(steps, length, model.config.get_text_config().vocab_size, seed)
    )
    times: list[float] = []
    peft_model = None
    optimizer = None
    with restored_model_state(model, experts):
        try:
            peft_model = get_peft_model(
                model,
                LoraConfig(
                    r=LORA_RANK,
                    lora_alpha=LORA_ALPHA,
                    target_modules=LORA_TARGET,
                    task_type="CAUSAL_LM",
                ),
            )
            peft_model.gradient_checkpointing_enable()
            peft_model.enable_input_require_grads()
            peft_model.train()
            optimizer = torch.optim.AdamW(
                [p for p in peft_model.parameters() if p.requires_grad], lr=LEARNING_RATE
            )
            for step in range(steps):
                x = rows[step : step + 1].to(device)
                sync(device)
                start = time.perf_counter()
                loss = peft_model(input_ids=x, labels=x).loss
                loss.backward()
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                sync(device)
                times.append(time.perf_counter() - start)
                del loss, x
        finally:
            del optimizer
            unwrap_lora(peft_model, model)
            del peft_model
    return times


def free_memory(device: str) -> None:
    gc.collect()
    if is_cuda(device):
        torch.cuda.empty_cache()


def measure(run: Callable[[], list[float]], length: int, device: str) -> dict[str, Any]:
    """Run one (mode, length); tokens/s over the steps after the first, peak memory, ok or oom."""
    free_memory(device)
    if is_cuda(device):
        torch.cuda.reset_peak_memory_stats()
    status, times, error = "ok", [], None
    try:
        times = run()
    except torch.OutOfMemoryError as exc:
        status, error = "oom", str(exc).splitlines()[0][:200]
    free_memory(device)
    timed = times[1:] if len(times) > 1 else times
    result: dict[str, Any] = {
        "status": status,
        "tokens_per_s": round(length * len(timed) / sum(timed), 1)
        if timed and status == "ok"
        else None,
        "step_s": [round(t, 3) for t in times],
        "peak_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2)
        if is_cuda(device)
        else None,
    }
    if error:
        result["error"] = error
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import peft
    import transformers
    import trl
    from datasets.utils.logging import disable_progress_bar

    from studio.patches.moe_experts import experts_in_use, register_lean_experts
    from studio.train.policy import experts_implementation

    disable_progress_bar()
    register_lean_experts()
    torch.manual_seed(args.seed)
    device_name = (
        torch.cuda.get_device_name(torch.device(args.device)) if is_cuda(args.device) else "cpu"
    )
    model = build_model(args.arch, args.device)
    model.config.use_cache = False
    tokenizer = load_tokenizer(args.tokenizer) if args.mode in ("studio", "both") else None
    config = {
        "batch": 1,
        "lora_rank": LORA_RANK,
        "lora_alpha": LORA_ALPHA,
        "lora_target": LORA_TARGET,
        "learning_rate": LEARNING_RATE,
        "gradient_checkpointing": True,
        "dtype": "bfloat16",
        "loss_on": "every token",
        "examples": "random tokens, exactly `length` each",
        "trainers": {
            "studio": "studio.train.sft.build_sft_trainer (TRL SFTTrainer, fused chunked LM head)",
            "plain": "PEFT get_peft_model + model(input_ids, labels).loss + AdamW",
        },
        "attn_implementation": model.config._attn_implementation,
        "parameters_b": round(sum(p.numel() for p in model.parameters()) / 1e9, 3),
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "peft": peft.__version__,
            "trl": trl.__version__,
        },
    }
    modes = ("studio", "plain") if args.mode == "both" else (args.mode,)
    # the plain loop keeps transformers' fastest experts kernel; None: the model has no
    # experts to choose
    plain_experts = "grouped_mm" if experts_in_use(model) is not None else None
    for mode in modes:
        # the plain loop checkpoints every layer: one run per length
        for length, skip in itertools.product(
            args.lengths, args.skip_layers if mode == "studio" else [0]
        ):
            if mode == "studio":
                cfg = studio_config(
                    length, args.steps, args.offload, bf16=is_cuda(args.device), skip_layers=skip
                )
                experts = experts_implementation(cfg, model.config)

                profile = LastStepProfile(args.profile, args.device) if args.profile else None

                def run(
                    cfg: Any = cfg,
                    experts: str | None = experts,
                    profile: LastStepProfile | None = profile,
                ) -> list[float]:
                    return run_studio(
                        model, tokenizer, cfg, experts, args.device, args.seed, profile
                    )
            else:
                experts, profile = plain_experts, None

                def run(length: int = length, experts: str | None = experts) -> list[float]:
                    return run_plain(model, length, args.steps, experts, args.device, args.seed)

            with contextlib.redirect_stdout(
                sys.stderr
            ):  # the trainer's logs; stdout carries only the JSON lines
                result = measure(run, length, args.device)
            line = {
                "figure": "moe_sft",
                "mode": mode,
                "arch": args.arch,
                "length": length,
                "skip_layers": skip,
                "tokens_per_s": result.pop("tokens_per_s"),
                "peak_gib": result.pop("peak_gib"),
                "status": result.pop("status"),
                "steps": args.steps,
                "device": device_name,
                "experts_implementation": experts,
                "offload": args.offload if mode == "studio" else False,
                **result,
                "config": config,
            }
            print(json.dumps(line), flush=True)
            if profile is not None and profile.table:
                print(
                    json.dumps(
                        {
                            "figure": "moe_profile",
                            "length": length,
                            "skip_layers": skip,
                            "device": device_name,
                            "top": profile.table,
                        }
                    ),
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
