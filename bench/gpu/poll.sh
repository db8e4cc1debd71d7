#!/usr/bin/env bash
# On the GPU machine: wait up to SECONDS for the recipe writing $ROOT/steps.jsonl (ROOT default
# /root), returning early when a step fails (an exit status other than 0 and 3, cancelled after
# its minutes) or the recipe writes "done"; then print steps.jsonl and pack the results into
# $OUT (bench/gpu/collect.sh). A failed step costs seconds of waiting, not the whole wait.
#   OUT=$OUT bash bench/gpu/poll.sh 500
ROOT=${ROOT:-/root}
steps=$ROOT/steps.jsonl
finished() {
  grep -qx done "$steps" 2>/dev/null || grep -Eq '"rc": ([1-24-9]|[0-9]{2,})[,}]' "$steps" 2>/dev/null
}
deadline=$(( $(date +%s) + ${1:?usage: poll.sh SECONDS} ))
while [ "$(date +%s)" -lt "$deadline" ] && ! finished; do sleep 5; done
cat "$steps" 2>/dev/null
bash "$(dirname "$0")/collect.sh"
