"""The fate of every LLaMA-Factory training key the studio does not honour.

Read from LLaMA-Factory's argument dataclasses (src/llamafactory/hparams/: model_args, data_args,
finetuning_args, training_args, generating_args, evaluation_args) and the transformers 5.17
`Seq2SeqTrainingArguments` fields its YAMLs may set. The keys the studio honours, with
LLaMA-Factory's meaning, are the LLaMA-Factory keys of studio/train/keys.py; every other key has
one of two fates here:

- *not needed*: it has no job in the studio (the reason says why); accepted with any value;
- *not supported*: it selects a feature the studio lacks (named); accepted, and reported, only
  with LLaMA-Factory's default value (`inert`), under which it changes nothing; any other value
  would change training and is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

NOT_NEEDED = "not needed"
NOT_SUPPORTED = "not supported"


@dataclass(frozen=True)
class Fate:
    """What the studio does with a LLaMA-Factory key it does not honour."""

    fate: str
    reason: str
    inert: tuple[Any, ...] = ()

    def changes_training(self, value: Any) -> bool:
        """True when `value` would make LLaMA-Factory train differently from the studio."""
        return self.fate == NOT_SUPPORTED and value not in self.inert


FATES: dict[str, Fate] = {}


def _not_needed(reason: str, *keys: str) -> None:
    for key in keys:
        FATES[key] = Fate(NOT_NEEDED, reason)


def _unsupported(feature: str, defaults: dict[str, Any]) -> None:
    """Keys of `feature`, each with LLaMA-Factory's default (its inert value; None also counts
    as unset)."""
    for key, default in defaults.items():
        FATES[key] = Fate(NOT_SUPPORTED, feature, (default, None))


# ---- model loading and tokenizer
_not_needed(
    "the studio loads only local models with built-in transformers architectures",
    "trust_remote_code",
)
_not_needed(
    "models are local folders or built-in models; nothing is downloaded",
    "cache_dir",
    "model_revision",
    "hf_hub_token",
    "ms_hub_token",
    "om_hub_token",
    "adapter_folder",
)
_not_needed(
    "the model loads with transformers' defaults; the studio picks device and dtype per run",
    "use_fast_tokenizer",
    "low_cpu_mem_usage",
    "offload_folder",
    "compute_dtype",
    "device_map",
    "model_max_length",
    "block_diag_attn",
    "print_param_status",
    "use_cpu",
)
_unsupported(
    "changing the tokenizer's vocabulary",
    {
        "resize_vocab": False,
        "split_special_tokens": False,
        "add_tokens": None,
        "add_special_tokens": None,
        "new_special_tokens_config": None,
        "init_special_tokens": "noise_init",
    },
)
_unsupported("RoPE scaling", {"rope_scaling": None})
_unsupported("LongLoRA shift short attention", {"shift_attn": False})
_unsupported("mixture-of-depths", {"mixture_of_depths": None})
_unsupported(
    "Unsloth and Liger kernels",
    {
        "use_unsloth": False,
        "use_unsloth_gc": False,
        "enable_liger_kernel": False,
        "use_liger_kernel": False,
        "liger_kernel_config": None,
        "use_v1_kernels": False,
    },
)
_unsupported("the MoE router's auxiliary loss", {"moe_aux_loss_coef": None})
_unsupported(
    "upcasting layer norms or the head output",
    {"upcast_layernorm": False, "upcast_lmhead_output": False},
)
_unsupported("training from random weights", {"train_from_scratch": False})
_unsupported(
    "non-reentrant checkpointing options",
    {"use_reentrant_gc": True, "gradient_checkpointing_kwargs": None},
)
_unsupported(
    "quantized (QLoRA) training",
    {
        "quantization_method": "bnb",
        "quantization_bit": None,
        "quantization_type": "nf4",
        "double_quantization": True,
        "quantization_device_map": None,
    },
)
_unsupported(
    "KTransformers",
    {
        "use_kt": False,
        "kt_cpu_activation": None,
        "kt_weight_path": None,
        "kt_non_expert_weight_path": None,
        "kt_expert_checkpoint_path": None,
        "kt_use_lora_experts": None,
        "kt_lora_expert_num": None,
        "kt_lora_expert_intermediate_size": None,
    },
)
# ---- images, video, audio
_not_needed(
    "the studio trains text-only models on text-to-SQL rows",
    "image_max_pixels",
    "image_min_pixels",
    "image_do_pan_and_scan",
    "crop_to_patches",
    "video_max_pixels",
    "video_min_pixels",
    "video_fps",
    "video_maxlen",
    "use_audio_in_video",
    "audio_sampling_rate",
    "media_dir",
    "freeze_vision_tower",
    "freeze_multi_modal_projector",
    "freeze_language_model",
)
# ---- export, inference and evaluation (other commands of the studio)
_not_needed(
    "merging and export are `python -m studio model export`, not training keys",
    "export_dir",
    "export_size",
    "export_device",
    "export_quantization_bit",
    "export_quantization_dataset",
    "export_quantization_nsamples",
    "export_quantization_maxlen",
    "export_legacy_format",
    "export_hub_model_id",
)
_not_needed(
    "generation settings belong to evaluation and the playground, not to training",
    "infer_backend",
    "use_kv_cache",
    "infer_dtype",
    "vllm_maxlen",
    "vllm_gpu_util",
    "vllm_enforce_eager",
    "vllm_max_lora_rank",
    "vllm_config",
    "sglang_maxlen",
    "sglang_mem_fraction",
    "sglang_tp_size",
    "sglang_config",
    "sglang_lora_backend",
    "do_sample",
    "top_k",
    "num_beams",
    "max_length",
    "max_new_tokens",
    "repetition_penalty",
    "length_penalty",
    "skip_special_tokens",
    "eval_num_beams",
    "predict_with_generate",
    "generation_max_length",
    "generation_num_beams",
    "generation_config",
    "sortish_sampler",
)
_not_needed(
    "execution accuracy is `python -m studio eval`; LLaMA-Factory's MMLU-style task "
    "evaluation has no place in training",
    "task",
    "task_dir",
    "batch_size",
    "lang",
    "n_shot",
    "save_dir",
    "download_mode",
    "do_eval",
    "do_predict",
    "compute_accuracy",
)
_not_needed("every studio training run trains", "do_train")
# ---- data preparation
_not_needed(
    "datasets are read and tokenized in the worker for each run; there is no cache",
    "overwrite_cache",
    "preprocessing_batch_size",
    "preprocessing_num_workers",
    "tokenized_path",
    "data_shared_file_system",
    "streaming",
    "buffer_size",
)
_not_needed(
    "the studio's rows are single-turn prompts with a SQL answer",
    "mask_history",
    "tool_format",
    "preserve_thinking",
    "ignore_pad_token_for_loss",
)
_unsupported(
    "training on prompt tokens (the loss is on the answer only)", {"train_on_prompt": False}
)
_unsupported(
    "mixing datasets other than by concatenation",
    {"mix_strategy": "concat", "interleave_probs": None},
)
_unsupported(
    "a separate evaluation dataset (use val_size)",
    {"eval_dataset": None, "eval_on_each_dataset": False},
)
_unsupported(
    "neat_packing as a key of its own (packing: true already keeps examples apart)",
    {"neat_packing": False},
)
_unsupported(
    "a default_system key (the template key sets the system prompt)", {"default_system": None}
)
_not_needed(
    "every row is rendered with the chat template's thinking off (as qwen3_nothink)",
    "enable_thinking",
)
_unsupported("turning off shuffling", {"disable_shuffling": False})
# ---- fine-tuning methods other than LoRA
_unsupported(
    "freeze (partial-parameter) fine-tuning",
    {"freeze_trainable_layers": 2, "freeze_trainable_modules": "all", "freeze_extra_modules": None},
)
_unsupported(
    "OFT",
    {"module_dropout": 0.0, "oft_rank": 0, "oft_block_size": 32, "oft_target": "all"},
)
_unsupported("LLaMA Pro block expansion", {"use_llama_pro": False})
_unsupported(
    "LoRA variants (LoRA+, rsLoRA, DoRA, PiSSA, extra trainable modules)",
    {
        "additional_target": None,
        "loraplus_lr_ratio": None,
        "loraplus_lr_embedding": 1e-6,
        "use_rslora": False,
        "use_dora": False,
        "pissa_init": False,
        "pissa_iter": 16,
        "pissa_convert": False,
        "create_new_adapter": False,
    },
)
_unsupported(
    "other SFT losses (DFT, ASFT, EAFT)",
    {
        "use_dft_loss": False,
        "use_asft_loss": False,
        "asft_alpha": 0.1,
        "use_eaft_loss": False,
        "eaft_alpha": 1.0,
    },
)
# ---- preference and RL stages
_unsupported(
    "DPO options TRL's DPOTrainer lacks here (BCO weight, label smoothing, LD-DPO, SimPO's gamma)",
    {"pref_bco_weight": 0.0, "dpo_label_smoothing": 0.0, "ld_alpha": None, "simpo_gamma": 0.5},
)
_unsupported(
    "a separate reference model (dpo_reference chooses the reference)",
    {"ref_model": None, "ref_model_adapters": None, "ref_model_quantization_bit": None},
)
_unsupported(
    "the KTO, PPO and reward-model stages",
    {
        "kto_chosen_weight": 1.0,
        "kto_rejected_weight": 1.0,
        "ppo_buffer_size": 1,
        "ppo_epochs": 4,
        "ppo_score_norm": False,
        "ppo_target": 6.0,
        "ppo_whiten_rewards": False,
        "reward_model": None,
        "reward_model_adapters": None,
        "reward_model_quantization_bit": None,
        "reward_model_type": "lora",
    },
)
# ---- optimizers
_unsupported(
    "optimizers other than AdamW with transformers' defaults",
    {
        "optim": "adamw_torch_fused",
        "optim_args": None,
        "optim_target_modules": None,
        "weight_decay": 0.0,
        "adam_beta1": 0.9,
        "adam_beta2": 0.999,
        "adam_epsilon": 1e-8,
        "lr_scheduler_kwargs": None,
        "use_adam_mini": False,
        "use_muon": False,
        "label_smoothing_factor": 0.0,
        "neftune_noise_alpha": None,
    },
)
_unsupported(
    "GaLore",
    {
        "use_galore": False,
        "galore_target": "all",
        "galore_rank": 16,
        "galore_update_interval": 200,
        "galore_scale": 2.0,
        "galore_proj_type": "std",
        "galore_layerwise": False,
    },
)
_unsupported(
    "APOLLO",
    {
        "use_apollo": False,
        "apollo_target": "all",
        "apollo_rank": 16,
        "apollo_update_interval": 200,
        "apollo_scale": 32.0,
        "apollo_proj": "random",
        "apollo_proj_type": "std",
        "apollo_scale_type": "channel",
        "apollo_layerwise": False,
        "apollo_scale_front": False,
    },
)
_unsupported(
    "BAdam",
    {
        "use_badam": False,
        "badam_mode": "layer",
        "badam_start_block": None,
        "badam_switch_mode": "ascending",
        "badam_switch_interval": 50,
        "badam_update_ratio": 0.05,
        "badam_mask_mode": "adjacent",
        "badam_verbose": 0,
    },
)
# ---- precision and compilation
_unsupported(
    "fp16, pure bf16, fp8 and TF32 training (bf16 selects bfloat16 weights with autocast)",
    {
        "fp16": False,
        "pure_bf16": False,
        "bf16_full_eval": False,
        "fp16_full_eval": False,
        "tf32": None,
        "fp8": False,
        "fp8_backend": "auto",
        "fp8_enable_fsdp_float8_all_gather": False,
    },
)
_unsupported(
    "torch.compile",
    {"torch_compile": False, "torch_compile_backend": None, "torch_compile_mode": None},
)
_unsupported("automatic batch size search", {"auto_find_batch_size": False})
# ---- distributed training
_not_needed(
    "distributed settings come from num_gpus, distributed_backend or deepspeed "
    "(configs/accelerate/)",
    "ddp_timeout",
    "ddp_find_unused_parameters",
    "ddp_bucket_cap_mb",
    "ddp_broadcast_buffers",
    "ddp_static_graph",
    "ddp_backend",
    "local_rank",
    "accelerator_config",
    "parallelism_config",
    "average_tokens_across_devices",
    "master_addr",
    "master_port",
)
_unsupported(
    "FSDP settings in the training file (distributed_backend: fsdp uses configs/accelerate/)",
    {"fsdp": None, "fsdp_config": None},
)
_unsupported(
    "Ray, Megatron and HyperParallel back-ends",
    {
        "ray_num_workers": 1,
        "ray_init_kwargs": None,
        "use_mca": False,
        "use_megatron_bridge": False,
        "megatron_bridge_args": None,
        "use_hyper_parallel": False,
        "hyper_parallel_args": None,
        "hyper_parallel_cp_size": 1,
    },
)
# ---- data loading
_not_needed(
    "the worker loads batches in its own process with the trainer's defaults",
    "dataloader_num_workers",
    "dataloader_pin_memory",
    "dataloader_persistent_workers",
    "dataloader_prefetch_factor",
    "dataloader_multiprocessing_context",
    "dataloader_in_order",
    "dataloader_drop_last",
    "remove_unused_columns",
    "label_names",
    "length_column_name",
    "train_sampling_strategy",
    "data_seed",
    "full_determinism",
    "ignore_data_skip",
    "torch_empty_cache_steps",
)
# ---- output, logging, checkpoints
_not_needed(
    "each run writes to its own run folder",
    "overwrite_output_dir",
    "save_on_each_node",
    "restore_callback_states_from_checkpoint",
    "enable_jit_checkpoint",
)
_not_needed(
    "the studio plots metrics.jsonl live (Train tab) and logs every step's numbers there",
    "plot_loss",
    "include_effective_tokens_per_second",
    "include_num_input_tokens_seen",
    "logging_first_step",
    "logging_nan_inf_filter",
    "log_on_each_node",
    "log_level",
    "log_level_replica",
    "disable_tqdm",
    "skip_memory_metrics",
    "debug",
    "run_name",
    "project",
    "logging_strategy",
)
_unsupported(
    "experiment trackers other than tensorboard (no network access is assumed)",
    {
        "use_swanlab": False,
        "swanlab_project": "llamafactory",
        "swanlab_workspace": None,
        "swanlab_run_name": None,
        "swanlab_mode": "cloud",
        "swanlab_api_key": None,
        "swanlab_logdir": None,
        "swanlab_lark_webhook_url": None,
        "swanlab_lark_secret": None,
        "trackio_space_id": None,
        "trackio_bucket_id": None,
        "trackio_static_space_id": None,
    },
)
_unsupported(
    "pushing to a model hub",
    {
        "push_to_hub": False,
        "hub_token": None,
        "hub_private_repo": None,
        "hub_model_id": None,
        "hub_strategy": "every_save",
        "hub_always_push": False,
        "hub_revision": None,
    },
)
_unsupported(
    "other checkpoint and evaluation schedules (save_strategy steps; evaluation with val_size)",
    {
        "save_strategy": "steps",
        "save_total_limit": None,
        "load_best_model_at_end": False,
        "metric_for_best_model": None,
        "greater_is_better": None,
        "early_stopping_steps": None,
        "eval_delay": 0,
        "prediction_loss_only": False,
        "eval_do_concat_batches": True,
        "eval_use_gather_object": False,
        "eval_accumulation_steps": None,
        "include_for_metrics": [],
        "batch_eval_metrics": False,
    },
)
_unsupported(
    "the torch profiler",
    {
        "enable_torch_profiler": False,
        "profiler_output_dir": None,
        "profiler_wait_steps": 1,
        "profiler_warmup_steps": 1,
        "profiler_active_steps": 1,
        "profiler_repeat": 1,
        "profiler_record_shapes": True,
        "profiler_profile_memory": True,
        "profiler_with_stack": True,
        "profile_modules": None,
    },
)
_not_needed("training never generates, so the KV cache is off", "use_cache")
