#!/usr/bin/env bash
# Round 3 of docs/RESULTS.md on one GPU, studio CLI only, with the prefix generation engine:
# SFT (packed) -> EX -> pairs from ALL SpiderMan train (n=4) ->
# both strategies -> DPO for each -> EX -> second round: pairs from the better DPO model on
# the first R2_LIMIT (1,536) train questions -> DPO again -> EX. Run from the repo root after
# staging the model's chunks in /root/stage/ (env.sh) with .whl/ and .gpu-data/ carried:
#   setsid nohup bash bench/gpu/round3.sh > /root/round3.out 2>&1 &
# then poll with `sleep N; cat /root/steps.jsonl; bash bench/gpu/collect.sh` calls issued back to
# back in one batch: the machine is given back 30 s after a call returns, and everything under
# /root goes with it (a 30-second pause between two polls lost a whole round once).
. bench/gpu/pipeline.sh
prepare_sft || exit 1
step bench_eval_sft python bench/bench_eval.py --data .gpu-data --adapter $S/adapter \
  --engine prefix --batch-size 1034 --out $R/bench-eval-sft
step mine python -m studio pairs generate --model $M --adapter $S/adapter --dataset spiderman_train --n 4 \
  --temperature 0.8 --batch-size 256 --strategy gold || exit 1
P=$(ls -d $R/pairs-* | head -1)
step build_onpolicy python -m studio pairs build $P --strategy onpolicy
for strategy in gold onpolicy; do
  step export_$strategy python -m studio pairs export --name spiderman_pairs_$strategy --strategy $strategy \
    --run $(basename $P) --include-pending
  step dpo_$strategy python -m studio train configs/spiderman_dpo.yaml $DPO_AS_RUN --set adapter_name_or_path=$S/adapter \
    --set dataset=spiderman_pairs_$strategy --set output_dir=/root/adapters/dpo-$strategy
  evaluate dpo_$strategy /root/adapters/dpo-$strategy
done
BEST=$(python - <<'PY'
import json
ex = {s: json.load(open(f"/root/ws/runs/eval-dpo_{s}/summary.json"))["ex"] for s in ("gold", "onpolicy")}
print(max(ex, key=ex.get))
PY
)
echo "{\"best_round1\": \"$BEST\"}" >> /root/steps.jsonl
step mine_r2 python -m studio pairs generate --model $M --adapter /root/adapters/dpo-$BEST --dataset spiderman_train \
  --n 4 --temperature 0.8 --batch-size 256 --strategy $BEST --limit ${R2_LIMIT:-1536} || exit 1
P2=$(ls -dt $R/pairs-* | head -1)
step export_r2 python -m studio pairs export --name spiderman_pairs_r2 --strategy $BEST --run $(basename $P2) \
  --include-pending
step dpo_r2 python -m studio train configs/spiderman_dpo.yaml $DPO_AS_RUN --set adapter_name_or_path=/root/adapters/dpo-$BEST \
  --set dataset=spiderman_pairs_r2 --set output_dir=/root/adapters/dpo-r2
evaluate dpo_r2 /root/adapters/dpo-r2
evaluate base
echo done >> /root/steps.jsonl
