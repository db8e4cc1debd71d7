#!/usr/bin/env bash
# Round 6 of docs/RESULTS.md on one GPU, studio CLI only: the β sweep the literature suggests
# next (every earlier run used β 0.1). SFT -> EX -> on-policy pairs from all SpiderMan train
# (n=4) -> DPO from the SFT adapter at β 0.5 with the reference log-probs precomputed, then at
# β 0.05 without (β leaves the compute unchanged, so the two wall clocks also measure
# precompute_ref_log_probs, issue 8) -> EX of each. Staging, carrying and polling as in
# bench/gpu/round3.sh:
#   setsid nohup bash bench/gpu/round6.sh > /root/round6.out 2>&1 &
. bench/gpu/pipeline.sh
prepare_sft || exit 1
evaluate sft $S/adapter
step mine python -m studio pairs generate --model $M --adapter $S/adapter --dataset spiderman_train --n 4 \
  --temperature 0.8 --batch-size 256 --strategy onpolicy || exit 1
P=$(ls -dt $R/pairs-* | head -1)
step export python -m studio pairs export --name spiderman_pairs_onpolicy --strategy onpolicy \
  --run $(basename $P) --include-pending || exit 1
dpo_beta() {  # NAME BETA [--set KEY=VALUE ...]: DPO from the SFT adapter on the on-policy pairs, then EX
  local name=$1 beta=$2; shift 2
  step dpo_$name python -m studio train configs/spiderman_dpo.yaml --set adapter_name_or_path=$S/adapter \
    --set dataset=spiderman_pairs_onpolicy --set pref_beta=$beta --set output_dir=/root/adapters/dpo-$name \
    "$@" || return 1
  evaluate dpo_$name /root/adapters/dpo-$name
}
dpo_beta beta05 0.5 --set precompute_ref_log_probs=true
dpo_beta beta005 0.05
echo done >> /root/steps.jsonl
