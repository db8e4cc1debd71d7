#!/usr/bin/env bash
# The built-in model's LoRA SFT epoch on SpiderMan train (configs/spiderman_sft.yaml: packed, 4
# bins of 2,048 tokens per step) and its EX on SpiderMan test. With BENCH_BINS (e.g. "4 8"),
# then bench/bench_sft.py's 40-step throughput at each of those bins per step, same machine.
# From the repository root of the GPU machine (data and settings: bench/gpu/pipeline.sh):
#   BENCH_BINS="4 8" setsid nohup bash bench/gpu/sft_epoch.sh > /root/sft_epoch.out 2>&1 &
. bench/gpu/pipeline.sh
prepare_sft || exit 1
evaluate sft "$S/adapter"
for bins in ${BENCH_BINS:-}; do
  bench_sft "bench_sft_${bins}bins" "$bins" --steps 40
done
echo "done" >> "$ROOT/steps.jsonl"
