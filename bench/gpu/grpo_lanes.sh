#!/usr/bin/env bash
# Two GRPO pipelines (bench/gpu/grpo.sh) side by side on one GPU, each with its own fresh SFT,
# workspace and logs (/root/a and /root/b): a replication at the cost of about one. The built-in
# model is converted once first; LANE_A and LANE_B hold each lane's environment words, e.g.
#   LANE_A="SFT_SET='--set seed=42' GRPO_SET='--set learning_rate=5e-5'"
# Other variables (GRPO_MINUTES, VOTE, GRPO_SET ...) apply to both unless a lane sets its own.
# From the repository root of the GPU machine, e.g. each lane with the DPO of its pipeline on the
# pairs of the first 2,048 train questions after GRPO:
#   GRPO_MINUTES=8 DPO=1 LIMIT=2048 EVAL_BATCH=512 LANE_A="SFT_SET='--set seed=42'" \
#   LANE_B="SFT_SET='--set seed=7'" setsid nohup bash bench/gpu/grpo_lanes.sh \
#   > /root/grpo_lanes.out 2>&1 &
. bench/gpu/env.sh
. bench/gpu/steps.sh
export TQDM_DISABLE=1 HF_HUB_OFFLINE=1
step convert python -m studio model info || exit 1
for lane in a b; do
  words=${LANE_A:-}
  if [ "$lane" = b ]; then words=${LANE_B:-}; fi
  mkdir -p "/root/$lane"
  env ROOT="/root/$lane" bash -c "export $words; bash bench/gpu/grpo.sh" > "/root/$lane/grpo.out" 2>&1 &
done
wait
echo "done" >> "$ROOT/steps.jsonl"
