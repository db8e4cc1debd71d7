#!/usr/bin/env bash
# The 30B MoE rows of docs/PERFORMANCE.md, session 6: layers kept out of gradient checkpointing
# now also recompute their frozen experts' gate/up projection in the backward instead of keeping
# it (studio.train.moe_experts.recompute_input_projections). The experts block at 8 k, then
# training steps at 8 k with 32, 40 and all 48 layers kept (and the plain loop), then 16 k and 32 k.
# TOKDIR: a folder with the built-in model's tokenizer files, as for bench/gpu/moe4.sh.
#   TOKDIR=/root/tok bash bench/gpu/moe6.sh > /root/moe6.out 2>&1
. bench/gpu/env.sh
. bench/gpu/steps.sh
T=${TOKDIR:-/root/tok}
step moe_block python bench/gpu/bench_experts.py --tokens 8192 --impls grouped_mm,studio_grouped_mm --iters 20
step moe_8k_kept python bench/gpu/bench_moe.py --lengths 8192 --steps 5 --mode both --skip-layers 48,40,32 \
  --tokenizer $T
step moe_long_kept python bench/gpu/bench_moe.py --lengths 16384,32768 --steps 3 --mode studio --skip-layers 0,16,32 \
  --tokenizer $T
