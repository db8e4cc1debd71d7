#!/usr/bin/env bash
# Round 6 of docs/RESULTS.md on one GPU, studio CLI only: the β sweep the literature suggests
# next (every earlier run used β 0.1). SFT -> EX -> on-policy pairs from all SpiderMan train
# (n=4) -> DPO from the SFT adapter at β 0.5 (reference log-probs precomputed, as
# configs/spiderman_dpo.yaml does), 0.05 (not
# precomputed: β leaves the compute unchanged, so the wall clocks also measure
# precompute_ref_log_probs, issue 8) and 1.0 (precomputed) -> EX of each. Staging, carrying
# and polling as in bench/gpu/round3.sh:
#   setsid nohup bash bench/gpu/round6.sh > /root/round6.out 2>&1 &
. bench/gpu/pipeline.sh
prepare_sft || exit 1
evaluate sft $S/adapter
mine_onpolicy $S/adapter || exit 1
dpo_beta beta05 0.5
dpo_beta beta005 0.05 --set precompute_ref_log_probs=false
dpo_beta beta1 1.0
echo done >> /root/steps.jsonl
