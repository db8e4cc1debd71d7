#!/usr/bin/env bash
# Round 4 of docs/RESULTS.md on one GPU, studio CLI only: DPO with a 4x learning rate and the
# chosen side's NLL added (pref_ftx, the RPO recipe), on-policy with up to 2 pairs per question
# and gold (started together; the studio's job supervisor runs one GPU job at a time, so they queue):
# SFT -> EX -> pairs from all SpiderMan train (n=4; the SFT evaluation runs alongside) ->
# DPO onpolicy (PPQ pairs per question) || DPO gold -> EX of both.
# Staging, carrying and polling as in bench/gpu/round3.sh:
#   setsid nohup bash bench/gpu/round4.sh > /root/round4.out 2>&1 &
. bench/gpu/pipeline.sh
DPO_LR=${DPO_LR:-2e-5} FTX=${FTX:-1.0} PPQ=${PPQ:-2}
export_pairs() {  # STRATEGY: the mined run's pairs as a registered dataset
  step export_$1 python -m studio pairs export --name spiderman_pairs_$1 --strategy $1 --run $(basename $P) \
    --include-pending
}
dpo() {  # STRATEGY: DPO from the SFT adapter
  step dpo_$1 python -m studio train configs/spiderman_dpo.yaml $DPO_AS_RUN --set adapter_name_or_path=$S/adapter \
    --set dataset=spiderman_pairs_$1 --set output_dir=/root/adapters/dpo-$1 --set learning_rate=$DPO_LR \
    --set pref_ftx=$FTX
}
prepare_sft || exit 1
evaluate sft $S/adapter &
step mine python -m studio pairs generate --model $M --adapter $S/adapter --dataset spiderman_train --n 4 \
  --temperature 0.8 --batch-size 256 --strategy gold || exit 1
P=$(ls -d $R/pairs-* | head -1)
step build_onpolicy python -m studio pairs build $P --strategy onpolicy --pairs-per-question $PPQ
export_pairs onpolicy  # one after the other: both register in dataset_info.json
export_pairs gold
dpo onpolicy &
dpo gold &
wait
evaluate dpo_onpolicy /root/adapters/dpo-onpolicy &
evaluate dpo_gold /root/adapters/dpo-gold &
wait
echo done >> /root/steps.jsonl
