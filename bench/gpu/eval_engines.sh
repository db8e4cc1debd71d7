#!/usr/bin/env bash
# Greedy generation speed and EX on all 1,034 SpiderMan test questions: an SFT epoch
# (configs/spiderman_sft.yaml), then bench/bench_eval.py with its adapter (merged) once per
# generation engine in ENGINES (default "prefix batched continuous"), BATCH questions per batch
# (default 1034: all at once), then the base model's evaluation with the prefix engine.
# From the repository root of the GPU machine (data and settings: bench/gpu/pipeline.sh):
#   ENGINES=prefix setsid nohup bash bench/gpu/eval_engines.sh > /root/eval_engines.out 2>&1 &
. bench/gpu/pipeline.sh
prepare_sft || exit 1
engines=()
for engine in ${ENGINES:-prefix batched continuous}; do engines+=(--engine "$engine"); done
step bench_eval_sft python bench/bench_eval.py --data "$SPIDERMAN" --adapter "$S/adapter" \
  "${engines[@]}" --batch-size "${BATCH:-1034}" --out "$R/bench-eval-sft"
evaluate base
echo "done" >> "$ROOT/steps.jsonl"
