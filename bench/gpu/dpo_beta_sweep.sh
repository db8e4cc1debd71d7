#!/usr/bin/env bash
# DPO at several β on the same pairs: SFT (configs/spiderman_sft.yaml) -> EX -> on-policy pairs
# (n = 4, T 0.8) from the first LIMIT SpiderMan train questions (default all 6,726) -> for each β
# in BETAS (default "0.05 0.5 1.0 2.0"), DPO from the SFT adapter (configs/spiderman_dpo.yaml at
# that pref_beta; DPO_SET adds settings) -> EX -> every DPO model compared with the SFT model.
# The β listed in LIVE_REF_BETAS run with precompute_ref_log_probs=false (the frozen reference
# beside the policy in every step): β leaves the compute unchanged, so their wall clock
# measures what precomputing saves.
# From the repository root of the GPU machine (data and settings: bench/gpu/pipeline.sh):
#   BETAS="0.5 0.05 1.0" LIVE_REF_BETAS=0.05 setsid nohup bash bench/gpu/dpo_beta_sweep.sh \
#     > /root/dpo_beta_sweep.out 2>&1 &
. bench/gpu/pipeline.sh
prepare_sft || exit 1
evaluate sft "$S/adapter"
mine_onpolicy "$S/adapter" "" ${LIMIT:+--limit "$LIMIT"} || exit 1
evals=()
for beta in ${BETAS:-0.05 0.5 1.0 2.0}; do
  live=()
  if [[ " ${LIVE_REF_BETAS:-} " == *" $beta "* ]]; then
    live=(--set precompute_ref_log_probs=false)
  fi
  dpo_beta "beta$beta" "$beta" "${live[@]}"
  evals+=("dpo_beta$beta")
done
compare compare sft "${evals[@]}"
echo "done" >> "$ROOT/steps.jsonl"
