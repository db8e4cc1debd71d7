#!/usr/bin/env bash
# The 30B MoE rows of docs/PERFORMANCE.md, session 4: transformers' grouped_mm experts against
# the studio's (studio_grouped_mm), first one block (bench_experts.py), then whole training
# steps at 8 k (plain = transformers + PEFT, studio = the studio's path) and 32 k (studio).
# TOKDIR: a folder with the built-in model's tokenizer.json, tokenizer_config.json,
# chat_template.jinja and config.json (the MoE weights are random, only the tokenizer is real).
#   TOKDIR=/root/tok bash bench/gpu/moe4.sh > /root/round4-moe.out 2>&1
. bench/gpu/env.sh
. bench/gpu/steps.sh
T=${TOKDIR:-/root/tok}
step moe_block python bench/gpu/bench_experts.py --tokens 8192 --impls grouped_mm,studio_grouped_mm --iters 20
step moe_8k python bench/gpu/bench_moe.py --lengths 8192 --steps 4 --mode both --tokenizer $T
step moe_32k python bench/gpu/bench_moe.py --lengths 32768 --steps 3 --mode studio --tokenizer $T
