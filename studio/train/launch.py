"""The command line a training job runs: one process, or `accelerate launch` over several GPUs.

Several processes are used when `num_gpus` asks for more than one, or when it is unset and
more than one GPU is visible; the launcher's config is `configs/accelerate/<backend>.yaml`
(`distributed_backend`: fsdp or deepspeed_zero3). A `deepspeed` file always runs under
`accelerate launch` (one process per GPU), the trainer reading that file.
"""

from __future__ import annotations

import sys
from pathlib import Path

from studio.errors import StudioError
from studio.project import CONFIGS_DIR
from studio.train.config import TrainConfig

ACCELERATE_CONFIGS = CONFIGS_DIR / "accelerate"
WORKER_MODULE = "studio.train.worker"


def visible_gpus() -> int:
    """How many CUDA devices this process can see."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def process_count(cfg: TrainConfig, gpus: int) -> int:
    """Processes to launch: num_gpus when set (checked against the visible GPUs), else every GPU."""
    if cfg.num_gpus is None:
        return max(gpus, 1)
    if cfg.num_gpus > max(gpus, 1):
        raise StudioError(
            f"config key 'num_gpus': {cfg.num_gpus} asked for but {gpus} GPU(s) are visible; "
            "lower num_gpus or check CUDA_VISIBLE_DEVICES"
        )
    return cfg.num_gpus


def worker_argv(
    run_dir: Path, cfg: TrainConfig, resume: bool = False, gpus: int | None = None
) -> list[str]:
    """argv for the job: `python -m studio.train.worker RUN_DIR`, under `accelerate launch` when distributed."""
    processes = process_count(cfg, visible_gpus() if gpus is None else gpus)
    tail = [str(run_dir), *(["--resume"] if resume else [])]
    launch = [sys.executable, "-m", "accelerate.commands.launch"]
    if cfg.deepspeed is not None:
        # LLaMA-Factory's way: processes started by the launcher (always, one GPU too), and
        # transformers' DeepSpeed integration reading the file (`deepspeed` in TrainingArguments)
        return [*launch, "--num_processes", str(processes), "-m", WORKER_MODULE, *tail]
    if processes == 1:
        return [sys.executable, "-m", WORKER_MODULE, *tail]
    config = ACCELERATE_CONFIGS / f"{cfg.distributed_backend}.yaml"
    return [
        *launch,
        "--config_file",
        str(config),
        "--num_processes",
        str(processes),
        "-m",
        WORKER_MODULE,
        *tail,
    ]
