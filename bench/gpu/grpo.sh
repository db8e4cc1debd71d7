#!/usr/bin/env bash
# GRPO of docs/TRAINING.md on SpiderMan: SFT (configs/spiderman_sft.yaml; SFT_SET adds settings)
# -> EX -> GRPO from the SFT adapter (configs/spiderman_grpo.yaml; GRPO_SET adds settings, e.g.
# "--set beta=0 --set learning_rate=5e-5") -> EX -> GRPO compared with SFT on the same questions.
# GRPO_MINUTES=N cancels GRPO after N minutes and evaluates the checkpoint it saved there.
# VOTE=N: then EX of the GRPO model greedy and voted among N sampled answers (eval --vote N).
# SKIP_SETTLED=1 first mines n = 8 samples per train question with the SFT adapter and trains
# with grpo_skip_settled on that run (questions always or never right left out).
# From the repository root of the GPU machine (data and settings: bench/gpu/pipeline.sh):
#   setsid nohup bash bench/gpu/grpo.sh > /root/grpo.out 2>&1 &
. bench/gpu/pipeline.sh
read -ra GRPO_SETTINGS <<< "${GRPO_SET:-}"
prepare_sft || exit 1
evaluate sft "$S/adapter"
skip=()
if [ -n "${SKIP_SETTLED:-}" ]; then
  step mine_settled python -m studio pairs generate --model "$M" --adapter "$S/adapter" \
    --dataset spiderman_train --n 8 --temperature 1.0 --batch-size 256 --strategy onpolicy \
    || exit 1
  skip=(--set "grpo_skip_settled=$(basename "$(newest_run pairs)")")
fi
train_for grpo "${GRPO_MINUTES:-}" python -m studio train configs/spiderman_grpo.yaml \
  --set "adapter_name_or_path=$S/adapter" --set "output_dir=$ROOT/adapters/grpo" \
  "${skip[@]}" "${GRPO_SETTINGS[@]}" || exit 1
G=$(newest_run grpo)
adapter=$(run_adapter "$G") || exit 1
evaluate grpo "$adapter"
compare compare sft grpo
if [ -n "${VOTE:-}" ]; then vote grpo "$adapter" "$VOTE"; fi
echo "done" >> "$ROOT/steps.jsonl"
