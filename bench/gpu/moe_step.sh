#!/usr/bin/env bash
# LoRA SFT steps of the Qwen3-Coder-30B-A3B architecture (random bf16 weights, LoRA r8 on
# q_proj,k_proj, batch 1, gradient checkpointing) at 8,192 tokens: the studio's path once per N
# in SKIP_LAYERS (the last N of the 48 decoder layers kept out of checkpointing; default
# 48,40,0; an oom line where they do not fit) and the plain transformers + PEFT loop. MODE: both
# (default), studio or plain; STEPS per run (default 6, the first one warm-up); PROFILE=TOP
# profiles the last step of each studio run. TOKDIR (default /root/tok): a folder with the
# built-in model's tokenizer.json, tokenizer_config.json, chat_template.jinja and config.json
# (only the tokenizer is real).
#   TOKDIR=/root/tok setsid nohup bash bench/gpu/moe_step.sh > /root/moe_step.out 2>&1 &
. bench/gpu/env.sh
. bench/gpu/steps.sh
step moe_8k python bench/gpu/bench_moe.py --lengths 8192 --steps "${STEPS:-6}" \
  --mode "${MODE:-both}" --skip-layers "${SKIP_LAYERS:-48,40,0}" ${PROFILE:+--profile "$PROFILE"} \
  --tokenizer "${TOKDIR:-/root/tok}"
