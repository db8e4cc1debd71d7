# Source on the GPU machine after bench/gpu/env.sh: `step NAME CMD...` runs CMD with its
# output in /root/logs/NAME.log and appends {"step", "rc", "seconds"} to /root/steps.jsonl;
# $DPO_AS_RUN: the DPO config overrides that replay rounds 1-5 as they ran.
mkdir -p /root/logs
step() {
  local name=$1; shift
  local start=$(date +%s%N)
  "$@" > "/root/logs/$name.log" 2>&1
  local rc=$?
  local end=$(date +%s%N)
  echo "{\"step\": \"$name\", \"rc\": $rc, \"seconds\": $(( (end - start) / 1000000 ))e-3}" >> /root/steps.jsonl
  return $rc
}
# rounds 1-5 ran configs/spiderman_dpo.yaml when its β was 0.1 and the reference was not precomputed
DPO_AS_RUN="--set pref_beta=0.1 --set precompute_ref_log_probs=false"
