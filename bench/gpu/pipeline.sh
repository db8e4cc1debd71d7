# Sourced by the round*.sh pipelines from the repository root on the GPU machine: the
# environment (env.sh), the `step` wrapper (steps.sh), $M (the built-in model), $R (the runs
# folder), `evaluate NAME [ADAPTER]`, `prepare_data`, `prepare_sft`, `mine_onpolicy` and `dpo_beta`.
. bench/gpu/env.sh
. bench/gpu/steps.sh
export TQDM_DISABLE=1 HF_HUB_OFFLINE=1
M=builtin:qwen2.5-coder-0.5b-instruct
R=/root/ws/runs
evaluate() {  # NAME [ADAPTER]: greedy EX on SpiderMan test, prefix engine, one batch
  step eval_$1 python -m studio eval --model $M ${2:+--adapter $2} --dataset spiderman_test --batch-size 1034 \
    --out $R/eval-$1
}
prepare_data() {  # convert the built-in model, import SpiderMan (.gpu-data/)
  step convert python -m studio model info || return 1
  step import python -m studio data import --format csv --path .gpu-data --name spiderman --schema-style ddl \
    --cutoff-len 2048
}
prepare_sft() {  # prepare_data, then train SFT; $S = the SFT run
  prepare_data || return 1
  step sft python -m studio train configs/spiderman_sft.yaml || return 1
  S=$(ls -d $R/sft-* | head -1)
}
mine_onpolicy() {  # ADAPTER [SUFFIX [GENERATE_ARG ...]]: on-policy pairs (n=4) from SpiderMan train (all of it
  # unless e.g. --limit N) with ADAPTER, exported as spiderman_pairs_onpolicySUFFIX (steps mineSUFFIX, exportSUFFIX)
  local adapter=$1 suffix=$2; shift $(( $# < 2 ? $# : 2 ))
  step mine$suffix python -m studio pairs generate --model $M --adapter $adapter --dataset spiderman_train --n 4 \
    --temperature 0.8 --batch-size 256 --strategy onpolicy "$@" || return 1
  local pairs=$(ls -dt $R/pairs-* | head -1)
  step export$suffix python -m studio pairs export --name spiderman_pairs_onpolicy$suffix --strategy onpolicy \
    --run $(basename $pairs) --include-pending
}
dpo_beta() {  # NAME BETA [--set KEY=VALUE ...]: DPO from $S's adapter on spiderman_pairs_onpolicy, then EX
  local name=$1 beta=$2; shift 2
  step dpo_$name python -m studio train configs/spiderman_dpo.yaml --set adapter_name_or_path=$S/adapter \
    --set dataset=spiderman_pairs_onpolicy --set pref_beta=$beta --set output_dir=/root/adapters/dpo-$name \
    "$@" || return 1
  evaluate dpo_$name /root/adapters/dpo-$name
}
