#!/usr/bin/env bash
# Round 5 of docs/RESULTS.md on one GPU, studio CLI only: iterated on-policy DPO over ALL of
# SpiderMan train with round 3's recipe (configs/spiderman_dpo.yaml with $DPO_AS_RUN: lr 5e-6, beta 0.1), the
# only one whose gain grew with a second round (round 3 mined that round from 1,536 questions):
# SFT -> pairs from all train (n=4; the SFT evaluation runs alongside) -> DPO round 1 (onpolicy)
# -> pairs from all train with the round-1 model (its evaluation alongside) -> DPO round 2 -> EX.
# Staging, carrying and polling as in bench/gpu/round3.sh:
#   setsid nohup bash bench/gpu/round5.sh > /root/round5.out 2>&1 &
. bench/gpu/pipeline.sh
on_policy_round() {  # ROUND ADAPTER: mine all train with ADAPTER, on-policy pairs, DPO from ADAPTER
  mine_onpolicy $2 _$1 || exit 1
  step dpo_$1 python -m studio train configs/spiderman_dpo.yaml $DPO_AS_RUN --set adapter_name_or_path=$2 \
    --set dataset=spiderman_pairs_onpolicy_$1 --set output_dir=/root/adapters/dpo-$1 || exit 1
}
prepare_sft || exit 1
evaluate sft $S/adapter &
on_policy_round r1 $S/adapter
evaluate dpo_r1 /root/adapters/dpo-r1 &
on_policy_round r2 /root/adapters/dpo-r1
evaluate dpo_r2 /root/adapters/dpo-r2
wait
echo done >> /root/steps.jsonl
