#!/usr/bin/env bash
# The recipe of docs/RESULTS.md: SFT (configs/spiderman_sft.yaml) -> EX -> on-policy pairs (n = 4,
# T 0.8: a right and a wrong sample of the SFT model, one pair per question that has both) from
# the first LIMIT SpiderMan train questions (default all 6,726) -> DPO from the SFT adapter
# (configs/spiderman_dpo.yaml: β 1.0, reference log-probs precomputed; BETA overrides β, DPO_SET
# adds settings) -> EX -> the DPO model compared with the SFT model on the same questions.
# ITERATIONS=N (default 1): each further iteration mines pairs from the latest DPO model (same
# LIMIT) and trains DPO from it (adapters dpo-onpolicy, dpo-onpolicy_2, ...).
# From the repository root of the GPU machine (data and settings: bench/gpu/pipeline.sh):
#   LIMIT=2048 setsid nohup bash bench/gpu/dpo_onpolicy.sh > /root/dpo_onpolicy.out 2>&1 &
. bench/gpu/pipeline.sh
prepare_sft || exit 1
evaluate sft "$S/adapter"
adapter=$S/adapter
evals=()
for i in $(seq "${ITERATIONS:-1}"); do
  suffix=""
  if [ "$i" -gt 1 ]; then suffix="_$i"; fi
  mine_onpolicy "$adapter" "$suffix" ${LIMIT:+--limit "$LIMIT"} || exit 1
  dpo "onpolicy$suffix" "$adapter" "spiderman_pairs_onpolicy$suffix" \
    ${BETA:+--set "pref_beta=$BETA"} || exit 1
  adapter=$ROOT/adapters/dpo-onpolicy$suffix
  evals+=("dpo_onpolicy$suffix")
done
compare compare sft "${evals[@]}"
echo "done" >> "$ROOT/steps.jsonl"
