"""Where the studio depends on library internals: every patch of transformers / TRL, in one table.

Each `Patch` names the config key that turns it off, the private symbols of transformers / TRL
it relies on (with the versions they were checked with) and what installs it. Training
installs go in three steps, each through this module: `install_before_load` (names registered
with transformers before `from_pretrained`), `install_on_model` (the loaded model) and
`install_on_trainer` (the built trainer); the prefix generation engine runs inside
`decoding_patches`. A patch is checked (studio.patches.compat) right before it is installed,
and a patch whose key turns it off is neither checked nor installed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from studio.patches.patch import FolderStep, Internal, Patch

if TYPE_CHECKING:
    from studio.inference.settings import GenerationSettings
    from studio.train.config import TrainConfig

TRANSFORMERS = "transformers 5.17.0"
TRL = "TRL 1.16.0"


def _qwen_norms(model_config: Any) -> bool:
    from studio.patches.rms_norm import QWEN_MODEL_TYPES

    return getattr(model_config, "model_type", None) in QWEN_MODEL_TYPES


def _lean_norms(model: Any) -> None:
    from studio.patches.rms_norm import lean_rms_norms

    lean_rms_norms(model)


def _lean_experts_on(cfg: TrainConfig) -> bool:
    from studio.patches.moe_experts import LEAN_EXPERTS

    return cfg.experts_implementation in ("auto", LEAN_EXPERTS)


def _dispatches_experts(model_config: Any) -> bool:
    from studio.patches.moe_experts import dispatches_experts

    return dispatches_experts(model_config)


def _register_lean_experts() -> None:
    from studio.patches.moe_experts import register_lean_experts

    register_lean_experts()


def _packed_on(cfg: TrainConfig) -> bool:
    from studio.patches.packed_attention import PACKED_ATTENTION

    return cfg.attn_implementation == PACKED_ATTENTION


def _register_packed_attention() -> None:
    from studio.patches.packed_attention import register_packed_attention

    register_packed_attention()


def _bounds_collator(trainer: Any, cfg: TrainConfig, prepare: Sequence[FolderStep]) -> None:
    from studio.patches.packed_attention import BoundsCollator

    trainer.data_collator = BoundsCollator(trainer.data_collator)


def _partial_checkpointing(trainer: Any, cfg: TrainConfig, prepare: Sequence[FolderStep]) -> None:
    from studio.patches.partial_checkpointing import PartialCheckpointing

    trainer.add_callback(PartialCheckpointing(cfg.gradient_checkpointing_skip_layers))


def _signal_groups(trainer: Any, cfg: TrainConfig, prepare: Sequence[FolderStep]) -> None:
    from studio.patches.signal_groups import count_signal_tokens_only

    count_signal_tokens_only(trainer)


def _length_batches(trainer: Any, cfg: TrainConfig, prepare: Sequence[FolderStep]) -> None:
    from studio.patches.length_batches import group_answers_by_length

    group_answers_by_length(trainer)


def _atomic_checkpoints(trainer: Any, cfg: TrainConfig, prepare: Sequence[FolderStep]) -> None:
    from studio.patches.trainer_checkpoints import save_checkpoints_atomically

    save_checkpoints_atomically(trainer, prepare)


def _sdpa_model(model_config: Any) -> bool:
    return model_config._attn_implementation == "sdpa"


def _decode_attention(model: Any) -> AbstractContextManager[None]:
    from studio.patches.decode_attention import decode_attention_in

    return decode_attention_in(model)


def _prefix_engine(settings: GenerationSettings) -> bool:
    return settings.engine == "prefix"


QWEN_NORM_FORWARD = (("forward", ("self", "hidden_states")),)
ATTENTION_FUNCTION = ("module", "query", "key", "value", "attention_mask", "dropout", "scaling")
ATTENTION_INTERFACE = Internal("transformers.modeling_utils", ("AttentionInterface.register",))

PATCHES: tuple[Patch, ...] = (
    Patch(
        name="fused_rms_norm",
        source="studio/patches/rms_norm.py",
        scope="training",
        key="fused_rms_norm",
        off="fused_rms_norm: false",
        checked_with=(TRANSFORMERS,),
        internals=(
            Internal(
                "transformers.models.qwen2.modeling_qwen2",
                ("Qwen2RMSNorm", "Qwen2RMSNorm.forward"),
                (("Qwen2RMSNorm.forward", ("self", "hidden_states")),),
            ),
            Internal(
                "transformers.models.qwen3.modeling_qwen3",
                ("Qwen3RMSNorm", "Qwen3RMSNorm.forward"),
                (("Qwen3RMSNorm.forward", ("self", "hidden_states")),),
            ),
            Internal(
                "transformers.models.qwen3_moe.modeling_qwen3_moe",
                ("Qwen3MoeRMSNorm", "Qwen3MoeRMSNorm.forward"),
                (("Qwen3MoeRMSNorm.forward", ("self", "hidden_states")),),
            ),
        ),
        is_on=lambda cfg: cfg.fused_rms_norm,
        applies=_qwen_norms,
        on_model=_lean_norms,
    ),
    Patch(
        name="lean_moe_experts",
        source="studio/patches/moe_experts.py",
        scope="training",
        key="experts_implementation",
        off="experts_implementation: grouped_mm",
        checked_with=(TRANSFORMERS,),
        internals=(
            Internal(
                "transformers.integrations.moe",
                ("ExpertsInterface.register", "use_experts_implementation", "_grouped_mm"),
                (("_grouped_mm", ("input", "weight", "offs")),),
            ),
            Internal(
                "transformers.models.qwen3_moe.modeling_qwen3_moe",
                ("Qwen3MoeExperts._apply_gate", "Qwen3MoeExperts.forward"),
                (
                    (
                        "Qwen3MoeExperts.forward",
                        ("self", "hidden_states", "top_k_index", "top_k_weights"),
                    ),
                ),
            ),
            Internal(
                "transformers.modeling_utils",
                ("PreTrainedModel._can_set_experts_implementation",),
            ),
            Internal(
                "transformers.configuration_utils", ("PretrainedConfig._experts_implementation",)
            ),
            Internal("transformers.models.auto.modeling_auto", ("MODEL_FOR_CAUSAL_LM_MAPPING",)),
        ),
        is_on=_lean_experts_on,
        applies=_dispatches_experts,
        before_load=_register_lean_experts,
    ),
    Patch(
        name="packed_attention",
        source="studio/patches/packed_attention.py",
        scope="training",
        key="packing",
        off="packing: false",
        checked_with=(TRANSFORMERS, TRL),
        internals=(
            ATTENTION_INTERFACE,
            Internal(
                "transformers.integrations.sdpa_attention",
                ("sdpa_attention_forward",),
                (("sdpa_attention_forward", ATTENTION_FUNCTION),),
            ),
            Internal(
                "trl.trainer.sft_trainer",
                ("DataCollatorForLanguageModeling",),
                (("DataCollatorForLanguageModeling", ("pad_token_id", "padding_free")),),
            ),
        ),
        is_on=_packed_on,
        before_load=_register_packed_attention,
        on_trainer=_bounds_collator,
    ),
    Patch(
        name="partial_checkpointing",
        source="studio/patches/partial_checkpointing.py",
        scope="training",
        key="gradient_checkpointing_skip_layers",
        off="gradient_checkpointing_skip_layers: 0",
        checked_with=(TRANSFORMERS, TRL),
        internals=(
            Internal(
                "transformers.modeling_layers",
                ("GradientCheckpointingLayer", "GradientCheckpointingLayer.gradient_checkpointing"),
            ),
        ),
        is_on=lambda cfg: cfg.gradient_checkpointing_skip_layers > 0,
        on_trainer=_partial_checkpointing,
    ),
    Patch(
        name="signal_groups",
        source="studio/patches/signal_groups.py",
        scope="training",
        key="loss_over_signal_groups",
        off="loss_over_signal_groups: false",
        checked_with=(TRL,),
        internals=(
            Internal(
                "trl.trainer.grpo_trainer",
                ("GRPOTrainer._generate_and_score_completions",),
                (("GRPOTrainer._generate_and_score_completions", ("self", "inputs")),),
            ),
        ),
        is_on=lambda cfg: cfg.stage == "grpo" and cfg.loss_over_signal_groups,
        on_trainer=_signal_groups,
    ),
    Patch(
        name="length_batches",
        source="studio/patches/length_batches.py",
        scope="training",
        key="grpo_group_by_length",
        off="grpo_group_by_length: false",
        checked_with=(TRL,),
        internals=(
            Internal(
                "trl.trainer.grpo_trainer",
                ("GRPOTrainer._prepare_inputs", "GRPOTrainer._get_per_token_logps_and_entropies"),
                (
                    ("GRPOTrainer._prepare_inputs", ("self", "generation_batch")),
                    (
                        "GRPOTrainer._get_per_token_logps_and_entropies",
                        (
                            "self",
                            "model",
                            "input_ids",
                            "attention_mask",
                            "logits_to_keep",
                            "batch_size",
                            "compute_entropy",
                            "compute_aux_loss",
                        ),
                    ),
                ),
            ),
        ),
        is_on=lambda cfg: cfg.stage == "grpo" and cfg.grpo_group_by_length,
        on_trainer=_length_batches,
    ),
    Patch(
        name="atomic_checkpoints",
        source="studio/patches/trainer_checkpoints.py",
        scope="training",
        key=None,
        off="",
        checked_with=(TRANSFORMERS, TRL),
        internals=(
            Internal(
                "transformers.trainer",
                (
                    "PREFIX_CHECKPOINT_DIR",
                    "Trainer._save_checkpoint",
                    "Trainer._get_output_dir",
                ),
                (
                    ("Trainer._save_checkpoint", ("self", "model", "trial")),
                    ("Trainer._get_output_dir", ("self", "trial")),
                ),
            ),
        ),
        is_on=lambda cfg: True,
        on_trainer=_atomic_checkpoints,
    ),
    Patch(
        name="decode_attention",
        source="studio/patches/decode_attention.py",
        scope="decoding",
        key="engine",
        off="engine: batched (--engine batched)",
        checked_with=(TRANSFORMERS,),
        internals=(
            ATTENTION_INTERFACE,
            Internal(
                "transformers.integrations.sdpa_attention",
                ("sdpa_attention_forward",),
                (("sdpa_attention_forward", ATTENTION_FUNCTION),),
            ),
            Internal(
                "transformers.masking_utils", ("AttentionMaskInterface.register", "sdpa_mask")
            ),
            Internal(
                "transformers.modeling_utils",
                ("PreTrainedModel.set_attn_implementation",),
                (("PreTrainedModel.set_attn_implementation", ("self", "attn_implementation")),),
            ),
            Internal(
                "transformers.configuration_utils", ("PretrainedConfig._attn_implementation",)
            ),
        ),
        is_on=_prefix_engine,
        applies=_sdpa_model,
        while_decoding=_decode_attention,
    ),
    Patch(
        name="kv_cache",
        source="studio/patches/kv_cache.py",
        scope="decoding",
        key="engine",
        off="engine: batched (--engine batched)",
        checked_with=(TRANSFORMERS,),
        internals=(
            Internal(
                "transformers.cache_utils",
                (
                    "DynamicCache",
                    "DynamicLayer.update",
                    "DynamicLayer.batch_repeat_interleave",
                    "DynamicLayer.batch_select_indices",
                    "DynamicLayer.get_seq_length",
                ),
                (
                    ("DynamicCache", ("ddp_cache_data", "config")),
                    ("DynamicLayer.update", ("self", "key_states", "value_states")),
                ),
            ),
        ),
        is_on=_prefix_engine,
    ),
)


def active_patches(
    scope: str, config: Any, model_config: Any, patches: Sequence[Patch] = PATCHES
) -> list[Patch]:
    """The patches of `scope` whose key is on and which apply to the model, in table order."""
    return [p for p in patches if p.scope == scope and p.is_on(config) and p.applies(model_config)]


def training_patches(
    cfg: TrainConfig, model_config: Any, patches: Sequence[Patch] = PATCHES
) -> list[str]:
    """The names of the patches a training run of `cfg` on this model installs (summary.json)."""
    return [p.name for p in active_patches("training", cfg, model_config, patches)]


def _checked(patches: Sequence[Patch], stage: str | None = None) -> Iterator[Patch]:
    """`patches` (those with an install for `stage`, all of them without one), each checked
    (studio.patches.compat) before it is handed out."""
    from studio.patches.compat import check_patch

    for patch in patches:
        if stage is None or getattr(patch, stage) is not None:
            check_patch(patch)
            yield patch


def install_before_load(
    cfg: TrainConfig, model_config: Any, patches: Sequence[Patch] = PATCHES
) -> None:
    """Register the active training patches' names with transformers (before `from_pretrained`)."""
    for patch in _checked(active_patches("training", cfg, model_config, patches), "before_load"):
        patch.before_load()


def install_on_model(cfg: TrainConfig, model: Any, patches: Sequence[Patch] = PATCHES) -> None:
    """Apply the active training patches to a model loaded for training."""
    for patch in _checked(active_patches("training", cfg, model.config, patches), "on_model"):
        patch.on_model(model)


def install_on_trainer(
    cfg: TrainConfig,
    trainer: Any,
    prepare: Sequence[FolderStep] = (),
    patches: Sequence[Patch] = PATCHES,
) -> None:
    """Apply the active training patches to a built trainer; `prepare` runs on every staged
    checkpoint folder before it is published (studio.patches.trainer_checkpoints)."""
    active = active_patches("training", cfg, trainer.model.config, patches)
    for patch in _checked(active, "on_trainer"):
        patch.on_trainer(trainer, cfg, prepare)


@contextlib.contextmanager
def decoding_patches(
    settings: GenerationSettings, model: Any, patches: Sequence[Patch] = PATCHES
) -> Iterator[None]:
    """The active decoding patches, every one checked, installed on `model` for the duration of
    the block (the engine builds its caches with studio.patches.kv_cache itself)."""
    with contextlib.ExitStack() as stack:
        for patch in _checked(active_patches("decoding", settings, model.config, patches)):
            if patch.while_decoding is not None:
                stack.enter_context(patch.while_decoding(model))
        yield
