#!/usr/bin/env bash
# After bench/gpu/grpo.sh on the same machine: resume the workspace's newest GRPO run from the
# checkpoint its cancel saved for GRPO_MINUTES more minutes (default 6), evaluate the checkpoint
# this cancel saves (eval-grpo_resumed) and compare SFT, GRPO and the resumed GRPO on the same
# questions (logs/compare_resumed.log).
#   setsid nohup bash bench/gpu/grpo_resume.sh > /root/resume.out 2>&1 &
. bench/gpu/pipeline.sh
G=$(newest_run grpo)
train_for grpo "${GRPO_MINUTES:-6}" python -m studio train --resume "$G" || exit 1
adapter=$(run_adapter "$G") || exit 1
evaluate grpo_resumed "$adapter"
compare compare_resumed sft grpo grpo_resumed
echo "done" >> "$ROOT/steps.jsonl"
