#!/usr/bin/env bash
# The longest context the Qwen3-Coder-30B-A3B architecture trains at on one GPU (random bf16
# weights, LoRA r8 on q_proj,k_proj, batch 1): bench_moe.py at each of LENGTHS (default
# 16384,32768,65536) with each N of SKIP_LAYERS layers kept out of checkpointing (default 0,16),
# MODE (default studio; both adds the plain transformers + PEFT loop), STEPS per run (default
# 3); OFFLOAD=1 adds activation_offloading. A length that does not fit prints an oom line.
# TOKDIR: as for moe_step.sh.
#   TOKDIR=/root/tok setsid nohup bash bench/gpu/moe_context.sh > /root/moe_context.out 2>&1 &
. bench/gpu/env.sh
. bench/gpu/steps.sh
step moe_long python bench/gpu/bench_moe.py --lengths "${LENGTHS:-16384,32768,65536}" \
  --steps "${STEPS:-3}" --mode "${MODE:-studio}" --skip-layers "${SKIP_LAYERS:-0,16}" \
  ${OFFLOAD:+--offload} --tokenizer "${TOKDIR:-/root/tok}"
