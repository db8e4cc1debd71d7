#!/usr/bin/env bash
# Session 6: where a step of the built-in model's SFT (configs/spiderman_sft.yaml, 4 bins of
# 2,048 tokens) goes: bench_sft.py with the last step profiled, at 4 and 8 bins.
# Staging, carrying and polling as in bench/gpu/round3.sh:
#   setsid nohup bash bench/gpu/round9.sh > /root/round9.out 2>&1 &
. bench/gpu/pipeline.sh
prepare_data || exit 1
step profile_sft_4bins python bench/bench_sft.py configs/spiderman_sft.yaml --steps 30 --profile 60
step profile_sft_8bins python bench/bench_sft.py configs/spiderman_sft.yaml --steps 30 --profile 60 \
  --set per_device_train_batch_size=8
echo done >> /root/steps.jsonl
