#!/usr/bin/env bash
# DPO on each pair strategy from one mining run: SFT (configs/spiderman_sft.yaml) -> EX -> n = 4
# samples (T 0.8) for the first LIMIT SpiderMan train questions (default all 6,726), each
# labelled by execution -> `gold` pairs (the gold SQL against a wrong sample) and `onpolicy`
# pairs (a right sample against a wrong one; up to PPQ per question, default 1) -> DPO from the
# SFT adapter on each (configs/spiderman_dpo.yaml; BETA overrides its β, DPO_SET adds settings)
# -> EX of each, compared with the SFT model -> EX of the base model. With SECOND_LIMIT=N, a
# second iteration in between: pairs of the better strategy mined from its DPO model over the
# first N train questions, DPO from that model (adapter dpo-second), EX, compared with the SFT
# model and with the model it started from.
# From the repository root of the GPU machine (data and settings: bench/gpu/pipeline.sh):
#   SECOND_LIMIT=1536 setsid nohup bash bench/gpu/dpo_strategies.sh \
#     > /root/dpo_strategies.out 2>&1 &
. bench/gpu/pipeline.sh
beta=()
if [ -n "${BETA:-}" ]; then beta=(--set "pref_beta=$BETA"); fi
prepare_sft || exit 1
evaluate sft "$S/adapter"
step mine python -m studio pairs generate --model "$M" --adapter "$S/adapter" \
  --dataset spiderman_train --n 4 --temperature 0.8 --batch-size 256 --strategy gold \
  ${LIMIT:+--limit "$LIMIT"} || exit 1
P=$(newest_run pairs)
step build_onpolicy python -m studio pairs build "$P" --strategy onpolicy \
  ${PPQ:+--pairs-per-question "$PPQ"}
for strategy in gold onpolicy; do  # one after the other: each registers in dataset_info.json
  step "export_$strategy" python -m studio pairs export --name "spiderman_pairs_$strategy" \
    --strategy "$strategy" --run "$(basename "$P")" --include-pending
done
for strategy in gold onpolicy; do
  dpo "$strategy" "$S/adapter" "spiderman_pairs_$strategy" "${beta[@]}"
done
compare compare sft dpo_gold dpo_onpolicy
if [ -n "${SECOND_LIMIT:-}" ]; then
  BEST=$(python - <<'PY'
import json
import os
ex = {s: json.load(open(f"{os.environ['ROOT']}/ws/runs/eval-dpo_{s}/summary.json"))["ex"]
      for s in ("gold", "onpolicy")}
print(max(ex, key=ex.get))
PY
)
  echo "{\"best_strategy\": \"$BEST\"}" >> "$ROOT/steps.jsonl"
  step mine_second python -m studio pairs generate --model "$M" \
    --adapter "$ROOT/adapters/dpo-$BEST" --dataset spiderman_train --n 4 --temperature 0.8 \
    --batch-size 256 --strategy "$BEST" --limit "$SECOND_LIMIT" || exit 1
  P2=$(newest_run pairs)
  step export_second python -m studio pairs export --name spiderman_pairs_second \
    --strategy "$BEST" --run "$(basename "$P2")" --include-pending
  dpo second "$ROOT/adapters/dpo-$BEST" spiderman_pairs_second "${beta[@]}"
  compare compare_second sft "dpo_$BEST" dpo_second
fi
evaluate base
echo "done" >> "$ROOT/steps.jsonl"
