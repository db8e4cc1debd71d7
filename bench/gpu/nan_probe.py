"""Find where non-finite gradients come from in a studio SFT run (GPU diagnosis).

Trains a config through the studio's own worker (`studio.train.worker.train`) with one
extra callback. At every optimizer step whose gradients are not finite it records the
step, the loss, the first parameters with non-finite gradients, and replays the batch:
whole, one example at a time, in float32, and with eager attention, to tell which input
and which numeric path produce the NaN. Results go to one JSON line per finding.

    python bench/gpu/nan_probe.py configs/spiderman_sft.yaml --stop-after 240 --out probe.jsonl
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path
from typing import Any

import torch
from transformers import TrainerCallback

from studio.data.importers.demo import open_workspace
from studio.train.config import load_config
from studio.train.worker import train, write_run_config


def grads_finite(model: torch.nn.Module) -> bool:
    return all(bool(torch.isfinite(p.grad).all()) for p in model.parameters() if p.grad is not None)


def backward_finite(
    model: torch.nn.Module, batch: dict[str, torch.Tensor], autocast: bool
) -> dict[str, Any]:
    """Forward + backward of `batch` on `model`; whether the loss and the gradients are finite."""
    model.zero_grad(set_to_none=True)
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
        loss = model(**batch).loss
    loss.backward()
    result = {"loss": float(loss.detach()), "grads_finite": grads_finite(model)}
    model.zero_grad(set_to_none=True)
    return result


class NonFiniteProbe(TrainerCallback):
    """Diagnoses every non-finite optimizer step, then lets the studio's guard skip it."""

    def __init__(self, out: Path, stop_after: int, tokenizer: Any) -> None:
        self.out = out
        self.stop_after = stop_after
        self.tokenizer = tokenizer
        self.batch: dict[str, torch.Tensor] = {}
        self.last_loss: float | None = None
        self.hooked = False
        self.replaying = False

    def _capture(self, module: torch.nn.Module, args: tuple, kwargs: dict, output: Any) -> None:
        if module.training and not self.replaying:
            self.batch = {k: v.detach() for k, v in kwargs.items() if isinstance(v, torch.Tensor)}
            loss = getattr(output, "loss", None)
            self.last_loss = None if loss is None else float(loss.detach())

    def on_step_begin(
        self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any
    ) -> None:
        if not self.hooked:
            model.register_forward_hook(self._capture, with_kwargs=True)
            self.hooked = True

    def on_pre_optimizer_step(
        self,
        args: Any,
        state: Any,
        control: Any,
        model: Any = None,
        optimizer: Any = None,
        **kwargs: Any,
    ) -> None:
        if grads_finite(model):
            return
        step = state.global_step + 1
        self.replaying = True
        batch = self.batch
        saved = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
        bad = [n for n, g in saved.items() if not bool(torch.isfinite(g).all())]
        finding: dict[str, Any] = {
            "step": step,
            "loss_logged_by_forward": self.last_loss,
            "nonfinite_params": len(bad),
            "first_nonfinite": bad[:8],
            "batch_shape": list(batch["input_ids"].shape),
        }
        finding["replay_whole"] = backward_finite(model, batch, autocast=True)
        examples = []
        for i in range(batch["input_ids"].shape[0]):
            one = {k: v[i : i + 1] for k, v in batch.items()}
            mask = one.get("attention_mask")
            length = int(mask.sum()) if mask is not None else one["input_ids"].shape[1]
            labels = one.get("labels")
            answer_tokens = int((labels != -100).sum()) if labels is not None else None
            verdict = backward_finite(model, one, autocast=True)
            examples.append(
                {"index": i, "length": length, "answer_tokens": answer_tokens, **verdict}
            )
            if not verdict["grads_finite"]:
                ids = one["input_ids"][0][:length]
                text = self.tokenizer.decode(ids)
                verdict_fp32 = backward_finite(copy.deepcopy(model).float(), one, autocast=False)
                model.config._attn_implementation = "eager"
                verdict_eager = backward_finite(model, one, autocast=True)
                model.config._attn_implementation = "sdpa"
                examples[-1].update(
                    text_head=text[:300],
                    text_tail=text[-300:],
                    fp32=verdict_fp32,
                    eager_attention=verdict_eager,
                )
        finding["examples"] = examples
        for name, param in model.named_parameters():
            param.grad = saved.get(name)
        self.replaying = False
        with open(self.out, "a") as handle:
            handle.write(json.dumps(finding) + "\n")
        print(f"[probe] step {step}: {json.dumps(finding)[:2000]}", flush=True)

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.global_step >= self.stop_after:
            control.should_training_stop = True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", type=Path)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--stop-after", type=int, default=240, help="stop after this many steps")
    parser.add_argument("--out", type=Path, default=Path("nan-probe.jsonl"))
    args = parser.parse_args()
    from studio.models.references import load_tokenizer

    cfg = load_config(args.config, args.overrides)
    ws = open_workspace()
    run_dir = ws.new_run_dir("probe")
    write_run_config(run_dir, cfg)
    probe = NonFiniteProbe(args.out, args.stop_after, load_tokenizer(cfg.model_name_or_path))
    train(run_dir, extra_callbacks=[probe])


if __name__ == "__main__":
    main()
