# Source on the GPU machine after bench/gpu/env.sh: `step NAME CMD...` runs CMD with its
# output in /root/logs/NAME.log and appends {"step", "rc", "seconds"} to /root/steps.jsonl.
mkdir -p /root/logs
step() {
  local name=$1 start end rc
  shift
  start=$(date +%s%N)
  "$@" > "/root/logs/$name.log" 2>&1
  rc=$?
  end=$(date +%s%N)
  echo "{\"step\": \"$name\", \"rc\": $rc, \"seconds\": $(( (end - start) / 1000000 ))e-3}" \
    >> /root/steps.jsonl
  return $rc
}
