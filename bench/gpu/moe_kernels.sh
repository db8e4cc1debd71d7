#!/usr/bin/env bash
# One sparse block and the RMSNorms of the Qwen3-Coder-30B-A3B architecture at 8,192 tokens,
# forward and backward, random bf16 weights: transformers' grouped_mm experts against the
# studio's studio_grouped_mm (bench_experts.py, median of 20), then transformers' Qwen RMSNorm
# against the studio's fused one (bench_norms.py, median of 50). JSON lines in /root/logs.
#   setsid nohup bash bench/gpu/moe_kernels.sh > /root/moe_kernels.out 2>&1 &
. bench/gpu/env.sh
. bench/gpu/steps.sh
step moe_block python bench/gpu/bench_experts.py --tokens 8192 \
  --impls grouped_mm,studio_grouped_mm --iters 20
step norms python bench/gpu/bench_norms.py --iters 50
