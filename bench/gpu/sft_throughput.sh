#!/usr/bin/env bash
# Where the built-in model's SFT step goes: bench/bench_sft.py on configs/spiderman_sft.yaml for
# STEPS steps (default 40; tokens/s and seconds a step leave out the first, warm-up, step) at
# each of BINS packed bins of 2,048 tokens per step (default "4 8 16"). With PROFILE=TOP the last
# step runs under torch.profiler (left out of the figures); a second line holds its TOP operators.
# From the repository root of the GPU machine (data and settings: bench/gpu/pipeline.sh):
#   STEPS=30 PROFILE=60 BINS="4 8" setsid nohup bash bench/gpu/sft_throughput.sh \
#     > /root/sft_throughput.out 2>&1 &
. bench/gpu/pipeline.sh
prepare_data || exit 1
for bins in ${BINS:-4 8 16}; do
  bench_sft "sft_${bins}bins" "$bins" --steps "${STEPS:-40}" ${PROFILE:+--profile "$PROFILE"}
done
echo "done" >> "$ROOT/steps.jsonl"
