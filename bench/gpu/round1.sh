#!/usr/bin/env bash
# Round 1 of docs/RESULTS.md on one GPU, studio CLI only: SFT (packed) -> EX -> pairs from the
# first 2,048 SpiderMan train questions (n=4) -> both strategies -> DPO for each -> EX. Run from the repo root
# after staging the model's chunks in /root/stage/ (env.sh) with .whl/ and .gpu-data/ carried:
#   setsid nohup bash bench/gpu/round1.sh > /root/round1.out 2>&1 &
. bench/gpu/env.sh
. bench/gpu/steps.sh
export TQDM_DISABLE=1 HF_HUB_OFFLINE=1
M=builtin:qwen2.5-coder-0.5b-instruct
step convert python -m studio model info || exit 1
step import python -m studio data import --format csv --path .gpu-data --name spiderman --schema-style ddl \
  --cutoff-len 2048 || exit 1
step sft python -m studio train configs/spiderman_sft.yaml || exit 1
S=$(ls -d /root/ws/runs/sft-* | head -1)
step eval_sft python bench/bench_eval.py --data .gpu-data --adapter $S/adapter --engine continuous \
  --engine batched --batch-size 1034 --out /root/ws/runs/eval-sft
step mine python -m studio pairs generate --model $M --adapter $S/adapter --dataset spiderman_train --n 4 \
  --temperature 0.8 --engine continuous --batch-size 1024 --strategy gold --limit 2048 || exit 1
P=$(ls -d /root/ws/runs/pairs-* | head -1)
step build_onpolicy python -m studio pairs build $P --strategy onpolicy
step export_gold python -m studio pairs export --name spiderman_pairs_gold --strategy gold --include-pending
step export_onpolicy python -m studio pairs export --name spiderman_pairs_onpolicy --strategy onpolicy \
  --include-pending
for strategy in gold onpolicy; do
  step dpo_$strategy python -m studio train configs/spiderman_dpo.yaml $DPO_AS_RUN --set adapter_name_or_path=$S/adapter \
    --set dataset=spiderman_pairs_$strategy --set output_dir=/root/adapters/dpo-$strategy
  step eval_dpo_$strategy python -m studio eval --model $M --adapter /root/adapters/dpo-$strategy \
    --dataset spiderman_test --engine batched --batch-size 1034 --out /root/ws/runs/eval-dpo-$strategy
done
echo done >> /root/steps.jsonl
