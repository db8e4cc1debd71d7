#!/usr/bin/env bash
# GRPO of docs/TRAINING.md on SpiderMan: SFT (configs/spiderman_sft.yaml; SFT_SET adds settings)
# -> EX -> GRPO from the SFT adapter (configs/spiderman_grpo.yaml; GRPO_SET adds settings, e.g.
# "--set beta=0 --set learning_rate=5e-5") -> EX -> GRPO compared with SFT on the same questions.
# GRPO_MINUTES=N cancels GRPO after N minutes and evaluates the checkpoint it saved there.
# GRPO_SET_B, GRPO_SET_C: a second and a third GRPO from the same SFT adapter with these settings
# instead of GRPO_SET (e.g. "--set epsilon_high=0.28"), one after the other: each one's EX, then
# SFT and every GRPO run so far compared (compare_b, compare_c); several levers measured against
# one SFT model on one machine's half hour.
# HELD_OUT=N: the SFT and each GRPO hold the same N train questions out (val_size, the SFT run's
# seed), each GRPO answers them greedily before its first step and at every checkpoint
# (save_steps HELD_OUT_EVERY, default 10; evaluation batches of 64) and, when its best state on
# them is neither the one it ended with nor the SFT adapter, that state's EX too, as
# eval-NAME_best (compared with the others in compare_best).
# VOTE=N: then EX of the GRPO model greedy and voted among N sampled answers (eval --vote N).
# DPO=1: the DPO of the same pipeline too: on-policy pairs mined with the SFT adapter as in
# bench/gpu/dpo_onpolicy.sh (n = 4, T 0.8; LIMIT=N the first N train questions), DPO from the SFT
# adapter on them (configs/spiderman_dpo.yaml) and its EX, after GRPO's EX (a workspace runs one
# GPU job at a time); the comparison then holds SFT, DPO and GRPO.
# SKIP_SETTLED=1 mines before GRPO (with DPO=1 those pairs, else n = 8 at T 1.0; LIMIT=N the first
# N train questions) and trains with grpo_skip_settled on that run (questions the SFT model always
# or never answered right left out).
# The SFT's and each GRPO lane's settings are checked (`train --check`, steps check_*) before the
# SFT trains.
# From the repository root of the GPU machine (data and settings: bench/gpu/pipeline.sh):
#   setsid nohup bash bench/gpu/grpo.sh > /root/grpo.out 2>&1 &
. bench/gpu/pipeline.sh
read -ra GRPO_SETTINGS <<< "${GRPO_SET:-}"
if [ -n "${HELD_OUT:-}" ]; then
  SFT_SETTINGS+=(--set "val_size=$HELD_OUT" --set eval_strategy=no)
fi
prepare_data || exit 1
# the SFT's and every GRPO lane's settings checked before the first job trains (DPO's pairs
# are mined later)
check_training sft configs/spiderman_sft.yaml "${SFT_SETTINGS[@]}" || exit 1
check_training grpo configs/spiderman_grpo.yaml "${GRPO_SETTINGS[@]}" || exit 1
for lane in b c; do
  lane_set="GRPO_SET_${lane^^}"
  if [ -z "${!lane_set:-}" ]; then continue; fi
  read -ra lane_settings <<< "${!lane_set}"
  check_training "grpo_$lane" configs/spiderman_grpo.yaml "${lane_settings[@]}" || exit 1
done
train_sft || exit 1
evaluate sft "$S/adapter"
skip=()
compared=(sft grpo)
mined=""
if [ -n "${SKIP_SETTLED:-}" ]; then
  if [ -n "${DPO:-}" ]; then
    mine_onpolicy "$S/adapter" "" ${LIMIT:+--limit "$LIMIT"} || exit 1
    mined=1
  else
    step mine_settled python -m studio pairs generate --model "$M" --adapter "$S/adapter" \
      --dataset spiderman_train --n 8 --temperature 1.0 --batch-size 256 --strategy onpolicy \
      ${LIMIT:+--limit "$LIMIT"} || exit 1
  fi
  skip=(--set "grpo_skip_settled=$(basename "$(newest_run pairs)")")
fi
held=()
if [ -n "${HELD_OUT:-}" ]; then
  sft_seed=$(python -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["seed"])' \
    "$S/config.yaml") || exit 1
  held=(--set "val_size=$HELD_OUT" --set "seed=$sft_seed" --set "save_steps=${HELD_OUT_EVERY:-10}"
    --set per_device_eval_batch_size=64 --set eval_on_start=true)
fi
best_evaluated=()  # eval-NAME_best runs
declare -A adapters  # GRPO run name -> the adapter it left
run_grpo() {  # NAME SETTING...: GRPO from the SFT adapter (cancelled after GRPO_MINUTES), its
  # adapter in adapters[NAME], its EX as eval-NAME
  local name=$1
  shift
  train_for grpo "${GRPO_MINUTES:-}" python -m studio train configs/spiderman_grpo.yaml \
    --set "adapter_name_or_path=$S/adapter" --set "output_dir=$ROOT/adapters/$name" \
    "${skip[@]}" "${held[@]}" "$@" || return 1
  local run best
  run=$(newest_run grpo)
  adapters[$name]=$(run_adapter "$run") || return 1
  evaluate "$name" "${adapters[$name]}" || return 1
  if [ -n "${HELD_OUT:-}" ] && best=$(best_held_out_adapter "$run") \
    && [ "$best" != "${adapters[$name]}" ]; then
    if [ "$best" = "$(realpath "$S/adapter")" ]; then
      echo "$name: no GRPO state beat the SFT adapter on the held-out questions"
    else
      evaluate "${name}_best" "$best" && best_evaluated+=("${name}_best")
    fi
  fi
}
run_grpo grpo "${GRPO_SETTINGS[@]}" || exit 1
compare compare sft grpo
grpo_runs=(grpo)
for lane in b c; do
  lane_set="GRPO_SET_${lane^^}"
  if [ -z "${!lane_set:-}" ]; then continue; fi
  read -ra lane_settings <<< "${!lane_set}"
  run_grpo "grpo_$lane" "${lane_settings[@]}" || continue
  grpo_runs+=("grpo_$lane")
  compare "compare_$lane" sft "${grpo_runs[@]}"
done
if [ -n "${DPO:-}" ]; then
  if [ -z "$mined" ]; then
    mine_onpolicy "$S/adapter" "" ${LIMIT:+--limit "$LIMIT"} || exit 1
  fi
  dpo onpolicy "$S/adapter" spiderman_pairs_onpolicy && compared=(sft dpo_onpolicy grpo)
fi
if [ -n "${DPO:-}" ]; then compare compare_dpo "${compared[@]}"; fi
if [ "${#best_evaluated[@]}" -gt 0 ]; then
  compare compare_best sft "${grpo_runs[@]}" "${best_evaluated[@]}"
fi
if [ -n "${VOTE:-}" ]; then vote grpo "${adapters[grpo]}" "$VOTE"; fi
echo "done" >> "$ROOT/steps.jsonl"
