#!/usr/bin/env bash
# The 30B MoE rows of docs/PERFORMANCE.md, session 5: training steps at 8 k with the last N of
# the 48 decoder layers kept out of gradient checkpointing (gradient_checkpointing_skip_layers,
# N = 0, 8, 16, 24; an oom line where the activations no longer fit), then the plain loop, then
# N = 18 and 20 (the largest that fits).
# TOKDIR: a folder with the built-in model's tokenizer files, as for bench/gpu/moe4.sh.
#   TOKDIR=/root/tok bash bench/gpu/moe5.sh > /root/moe5.out 2>&1
. bench/gpu/env.sh
. bench/gpu/steps.sh
step moe_8k_skip python bench/gpu/bench_moe.py --lengths 8192 --steps 4 --mode both --skip-layers 0,8,16,24 \
  --tokenizer ${TOKDIR:-/root/tok}
step moe_8k_skip_max python bench/gpu/bench_moe.py --lengths 8192 --steps 4 --mode studio --skip-layers 18,20 \
  --tokenizer ${TOKDIR:-/root/tok}
