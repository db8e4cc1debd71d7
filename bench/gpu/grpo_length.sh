#!/usr/bin/env bash
# GRPO's step time with micro-batches grouped by length (grpo_group_by_length, the default)
# against TRL's layout: STEPS (default 8: one rollout of configs/spiderman_grpo.yaml) GRPO steps
# of the built-in model from no adapter, once each way, one after the other. Each run's
# metrics.jsonl logs step_s (the first step holds the rollout and the old policy's log-probs)
# and rollout_s.
#   setsid nohup bash bench/gpu/grpo_length.sh > /root/grpo.out 2>&1 &
. bench/gpu/pipeline.sh
prepare_data || exit 1
for grouped in true false; do
  step "grpo_grouped_$grouped" python -m studio train configs/spiderman_grpo.yaml \
    --set 'adapter_name_or_path=[]' --set "max_steps=${STEPS:-8}" --set save_steps=1000 \
    --set "grpo_group_by_length=$grouped" --set "output_dir=$ROOT/adapters/grouped_$grouped"
done
echo "done" >> "$ROOT/steps.jsonl"
