#!/usr/bin/env bash
# Session 6: DPO with the fused RMSNorm (policy and precomputed reference both on it): SFT,
# on-policy pairs from the first 2,048 SpiderMan train questions, configs/spiderman_dpo.yaml
# on them, EX of SFT and DPO. Checks that the reference still matches the policy at step 1
# (rewards and margins ~0) and measures the DPO steps.
# Staging, carrying and polling as in bench/gpu/round3.sh:
#   setsid nohup bash bench/gpu/round10.sh > /root/round10.out 2>&1 &
. bench/gpu/pipeline.sh
prepare_sft || exit 1
mine_onpolicy $S/adapter "" --limit 2048 || exit 1
dpo_beta beta1 1.0
evaluate sft $S/adapter
echo done >> /root/steps.jsonl
