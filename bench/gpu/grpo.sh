#!/usr/bin/env bash
# GRPO of docs/TRAINING.md on SpiderMan: SFT (configs/spiderman_sft.yaml) -> EX -> GRPO from the
# SFT adapter (configs/spiderman_grpo.yaml; GRPO_SET adds settings, e.g.
# "--set beta=0 --set num_generations=16") -> EX -> GRPO compared with SFT on the same questions.
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
step grpo python -m studio train configs/spiderman_grpo.yaml \
  --set "adapter_name_or_path=$S/adapter" --set "output_dir=/root/adapters/grpo" \
  "${skip[@]}" "${GRPO_SETTINGS[@]}" || exit 1
cp "$(newest_run grpo)/metrics.jsonl" /root/logs/grpo-metrics.jsonl
cp "$(newest_run grpo)/summary.json" /root/logs/grpo-summary.json
evaluate grpo /root/adapters/grpo
compare compare sft grpo
echo "done" >> /root/steps.jsonl
