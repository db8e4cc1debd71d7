#!/usr/bin/env bash
# Session 6: the built-in model with the fused RMSNorm of studio.train.lean_norms (every model
# the studio trains gets it): the SFT row's full epoch and its EX, then bench_sft's 40-step
# throughput with 4 and 8 bins per step (the rows of docs/PERFORMANCE.md).
# Staging, carrying and polling as in bench/gpu/round3.sh:
#   setsid nohup bash bench/gpu/round8.sh > /root/round8.out 2>&1 &
. bench/gpu/pipeline.sh
prepare_sft || exit 1
evaluate sft $S/adapter
step bench_sft_4bins python bench/bench_sft.py configs/spiderman_sft.yaml --steps 40
step bench_sft_8bins python bench/bench_sft.py configs/spiderman_sft.yaml --steps 40 --set per_device_train_batch_size=8
echo done >> /root/steps.jsonl
