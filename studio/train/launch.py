"""Training as a job: `start_training` checks the config, writes it into a new run folder and
queues the job; the command line it runs is one process, or `accelerate launch` over several GPUs.

Several processes are used when `num_gpus` asks for more than one, or when it is unset and
more than one GPU is visible; the launcher's config is `configs/accelerate/<backend>.yaml`
(`distributed_backend`: fsdp or deepspeed_zero3). A `deepspeed` file always runs under
`accelerate launch` (one process per GPU), the trainer reading that file.
"""

from __future__ import annotations

import sys
from pathlib import Path

from studio.errors import StudioError
from studio.jobs.rundir import RunDir
from studio.project import CONFIGS_DIR
from studio.train.config import TrainConfig, load_config

ACCELERATE_CONFIGS = CONFIGS_DIR / "accelerate"


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


def launch_argv(module: str, run_dir: Path, gpus: int | None = None) -> list[str]:
    """argv for a training job: `python -m MODULE RUN_DIR`, under `accelerate launch` when the
    run's config.yaml asks for several processes."""
    cfg = load_config(RunDir(run_dir).train_config)
    processes = process_count(cfg, visible_gpus() if gpus is None else gpus)
    launch = [sys.executable, "-m", "accelerate.commands.launch"]
    if cfg.deepspeed is not None:
        # LLaMA-Factory's way: processes started by the launcher (always, one GPU too), and
        # transformers' DeepSpeed integration reading the file (`deepspeed` in TrainingArguments)
        return [*launch, "--num_processes", str(processes), "-m", module, str(run_dir)]
    if processes == 1:
        return [sys.executable, "-m", module, str(run_dir)]
    config = ACCELERATE_CONFIGS / f"{cfg.distributed_backend}.yaml"
    return [
        *launch,
        "--config_file",
        str(config),
        "--num_processes",
        str(processes),
        "-m",
        module,
        str(run_dir),
    ]
