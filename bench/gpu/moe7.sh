#!/usr/bin/env bash
# The 30B MoE rows of docs/PERFORMANCE.md, session 6, second run: every RMSNorm of the trained
# model now runs torch's fused kernel (studio.train.lean_norms). The norms alone (bench_norms.py),
# then training steps at 8 k with all 48, 40 and 0 layers kept out of checkpointing (the last step
# of each profiled) and the plain loop, then 16 k, 32 k and 64 k.
# TOKDIR: a folder with the built-in model's tokenizer files, as for bench/gpu/moe4.sh.
#   TOKDIR=/root/tok bash bench/gpu/moe7.sh > /root/moe7.out 2>&1
. bench/gpu/env.sh
. bench/gpu/steps.sh
T=${TOKDIR:-/root/tok}
step norms python bench/gpu/bench_norms.py --iters 50
step moe_8k_fused_norms python bench/gpu/bench_moe.py --lengths 8192 --steps 6 --mode both --skip-layers 48,40,0 \
  --profile 40 --tokenizer $T
step moe_long_fused_norms python bench/gpu/bench_moe.py --lengths 16384,32768,65536 --steps 3 --mode studio \
  --skip-layers 0,16 --tokenizer $T
