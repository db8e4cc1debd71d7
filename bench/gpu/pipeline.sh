# The library of the built-in model's GPU recipes (sft_epoch.sh, dpo_onpolicy.sh, ...), sourced
# from the repository root: the environment (env.sh), the `step` wrapper (steps.sh), $M (the
# built-in model), $R (the runs folder), and prepare_data, prepare_sft, evaluate, compare,
# bench_sft, newest_run, mine_onpolicy, dpo and dpo_beta.
# SPIDERMAN: a folder with SpiderMan's train_queries.csv and test_queries.csv and sqlite.tar.xz
#   (its databases as sqlite/<db>.sqlite); default .gpu-data/ in the repository. SpiderMan, a
#   corrected Spider 1.0 (CC BY-SA 4.0), is at github.com/cloudera/spiderman.
# DPO_SET: extra `--set KEY=VALUE` words for every DPO run, applied after the config and before
#   a recipe's own settings, e.g. "--set learning_rate=2e-5 --set pref_ftx=1.0".
# SFT_SET: the same for the SFT run, e.g. "--set seed=7".
. bench/gpu/env.sh
. bench/gpu/steps.sh
# what ran: the libraries and the card, in logs/versions.log (bench/gpu/collect.sh brings it back)
python -c 'import importlib.metadata as m, torch
print({p: m.version(p) for p in ("torch", "transformers", "trl", "peft", "datasets")},
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU")' \
  > "$ROOT/logs/versions.log" 2>&1
export TQDM_DISABLE=1 HF_HUB_OFFLINE=1
M=builtin:qwen2.5-coder-0.5b-instruct
R=$ROOT/ws/runs
SPIDERMAN=$(realpath "${SPIDERMAN:-.gpu-data}")
read -ra DPO_SETTINGS <<< "${DPO_SET:-}"
read -ra SFT_SETTINGS <<< "${SFT_SET:-}"
evaluate() {  # NAME [ADAPTER]: greedy EX on SpiderMan test, prefix engine, $R/eval-NAME, in
  # batches of EVAL_BATCH questions (default 1034: one batch, about 52 GB on the GPU)
  step "eval_$1" python -m studio eval --model "$M" ${2:+--adapter "$2"} --dataset spiderman_test \
    --batch-size "${EVAL_BATCH:-1034}" --out "$R/eval-$1"
}
compare() {  # STEP FIRST OTHER...: eval-OTHER against eval-FIRST on the same questions (paired
  # interval, questions won / lost, exact McNemar p), as JSON in $ROOT/logs/STEP.log
  local name=$1 runs=() run
  shift
  for run in "$@"; do runs+=("$R/eval-$run"); done
  step "$name" python -m studio eval --compare "${runs[@]}" --json
}
vote() {  # NAME ADAPTER N: EX greedy and voted among N answers sampled at T 0.7 (eval --vote N)
  # on SpiderMan test, $R/vote-NAME
  step "vote_$1" python -m studio eval --model "$M" --adapter "$2" --dataset spiderman_test \
    --batch-size 256 --vote "$3" --out "$R/vote-$1"
}
train_for() {  # NAME MINUTES CMD...: `step NAME CMD...`; with MINUTES (whole minutes), the
  # workspace's newest training job with a run folder NAME-* is cancelled after that long (its
  # trainer saves a checkpoint at the step it stops on) and its exit status 3 (cancelled) counts
  # as success
  local name=$1 minutes=$2 watcher="" rc
  shift 2
  if [ -n "$minutes" ]; then
    ( sleep "$(( minutes * 60 ))"
      python -m studio jobs cancel "$(python -m studio jobs list --kind train --limit 50 --json \
        | python -c 'import json, os, sys
print(next(job["id"] for job in json.load(sys.stdin)
           if os.path.basename(job["run_dir"]).startswith(sys.argv[1] + "-")))' "$name")" ) \
      > "$ROOT/logs/$name-cancel.log" 2>&1 &
    watcher=$!
  fi
  step "$name" "$@"
  rc=$?
  if [ -n "$watcher" ]; then kill "$watcher" 2>/dev/null; fi
  [ "$rc" -eq 0 ] || [ "$rc" -eq 3 ]
}
run_adapter() {  # RUN: the adapter a training run left: its final adapter, or the checkpoint a
  # cancel saved; fails when it left neither (e.g. cancelled before its first step)
  python - "$1/summary.json" <<'PY'
import json
import sys

summary = json.load(open(sys.argv[1]))
adapter = summary.get("adapter") or summary.get("checkpoint")
if not adapter:
    sys.exit(f"{sys.argv[1]}: the run left no adapter and no checkpoint")
print(adapter)
PY
}
best_held_out_adapter() {  # RUN: the saved state of a GRPO run with held-out questions that
  # scored best on them (summary.json's best_held_out); fails when none was evaluated and saved
  python - "$1/summary.json" <<'PY'
import json
import sys

best = json.load(open(sys.argv[1])).get("best_held_out")
if not best:
    sys.exit(f"{sys.argv[1]}: no saved state was evaluated on held-out questions")
print(best["path"])
PY
}
newest_run() {  # PREFIX: the newest run folder $R/PREFIX-* (the studio names them: no spaces)
  # shellcheck disable=SC2012
  ls -dt "$R/$1"-* | head -1
}
prepare_data() {  # convert the built-in model, import SpiderMan from $SPIDERMAN (again on a
  # second start in the same workspace)
  step convert python -m studio model info || return 1
  step import python -m studio data import --format csv --path "$SPIDERMAN" --name spiderman \
    --schema-style ddl --cutoff-len 2048 --replace
}
check_training() {  # NAME CONFIG SETTING...: `train CONFIG SETTING... --check` from no adapter
  # (the one a recipe starts from may not exist yet), as step check_NAME: a setting the studio
  # refuses stops a recipe before its first training job, not after it
  local name=$1 config=$2
  shift 2
  step "check_$name" python -m studio train "$config" "$@" --set 'adapter_name_or_path=[]' --check
}
train_sft() {  # train SFT (configs/spiderman_sft.yaml); $S = the SFT run
  step sft python -m studio train configs/spiderman_sft.yaml "${SFT_SETTINGS[@]}" || return 1
  S=$(newest_run sft)
}
prepare_sft() {  # prepare_data, then train_sft
  prepare_data || return 1
  train_sft
}
bench_sft() {  # NAME BINS [BENCH_SFT_ARG ...]: bench/bench_sft.py on configs/spiderman_sft.yaml
  # with BINS packed bins of 2,048 tokens per step
  local name=$1 bins=$2
  shift 2
  step "$name" python bench/bench_sft.py configs/spiderman_sft.yaml \
    --set "per_device_train_batch_size=$bins" "$@"
}
mine_onpolicy() {  # ADAPTER [SUFFIX [GENERATE_ARG ...]]: on-policy pairs (n=4) from SpiderMan
  # train (all of it unless e.g. --limit N) with ADAPTER, exported as
  # spiderman_pairs_onpolicySUFFIX (steps mineSUFFIX, exportSUFFIX)
  local adapter=$1 suffix=$2 pairs
  shift $(( $# < 2 ? $# : 2 ))
  step "mine$suffix" python -m studio pairs generate --model "$M" --adapter "$adapter" \
    --dataset spiderman_train --n 4 --temperature 0.8 --batch-size 256 --strategy onpolicy "$@" \
    || return 1
  pairs=$(newest_run pairs)
  step "export$suffix" python -m studio pairs export --name "spiderman_pairs_onpolicy$suffix" \
    --strategy onpolicy --run "$(basename "$pairs")" --include-pending
}
dpo() {  # NAME ADAPTER DATASET [--set KEY=VALUE ...]: DPO (configs/spiderman_dpo.yaml, then
  # $DPO_SET, then the given settings) from ADAPTER on DATASET into $ROOT/adapters/dpo-NAME,
  # then its EX (eval-dpo_NAME)
  local name=$1 adapter=$2 dataset=$3
  shift 3
  step "dpo_$name" python -m studio train configs/spiderman_dpo.yaml \
    --set "adapter_name_or_path=$adapter" --set "dataset=$dataset" \
    --set "output_dir=$ROOT/adapters/dpo-$name" "${DPO_SETTINGS[@]}" "$@" || return 1
  evaluate "dpo_$name" "$ROOT/adapters/dpo-$name"
}
dpo_beta() {  # NAME BETA [--set KEY=VALUE ...]: dpo from $S's adapter on spiderman_pairs_onpolicy
  # at β BETA
  local name=$1 beta=$2
  shift 2
  dpo "$name" "$S/adapter" spiderman_pairs_onpolicy --set "pref_beta=$beta" "$@"
}
