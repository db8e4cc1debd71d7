# Source on the GPU machine after bench/gpu/env.sh: `step NAME CMD...` runs CMD with its
# output in $ROOT/logs/NAME.log and appends {"step", "rc", "seconds"} to $ROOT/steps.jsonl.
mkdir -p "$ROOT/logs"
step() {
  local name=$1 start end rc
  shift
  start=$(date +%s%N)
  "$@" > "$ROOT/logs/$name.log" 2>&1
  rc=$?
  end=$(date +%s%N)
  echo "{\"step\": \"$name\", \"rc\": $rc, \"seconds\": $(( (end - start) / 1000000 ))e-3}" \
    >> "$ROOT/steps.jsonl"
  return $rc
}
