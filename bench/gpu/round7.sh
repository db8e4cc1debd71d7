#!/usr/bin/env bash
# Round 7 of docs/RESULTS.md: round 6's best recipe (β 1.0) repeated from a fresh SFT run and
# fresh pairs, to see whether its gain over SFT survives retraining; then β 2.0 on the same pairs.
# Staging, carrying and polling as in bench/gpu/round3.sh:
#   setsid nohup bash bench/gpu/round7.sh > /root/round7.out 2>&1 &
. bench/gpu/pipeline.sh
prepare_sft || exit 1
evaluate sft $S/adapter
mine_onpolicy $S/adapter || exit 1
dpo_beta beta1 1.0
dpo_beta beta2 2.0
echo done >> /root/steps.jsonl
