# Sourced by the round*.sh pipelines from the repository root on the GPU machine: the
# environment (env.sh), the `step` wrapper (steps.sh), $M (the built-in model), $R (the runs
# folder), `evaluate NAME [ADAPTER]` and `prepare_sft`.
. bench/gpu/env.sh
. bench/gpu/steps.sh
export TQDM_DISABLE=1 HF_HUB_OFFLINE=1
M=builtin:qwen2.5-coder-0.5b-instruct
R=/root/ws/runs
mkdir -p /root/shared && ln -sfn "$PWD/.gpu-data" /root/shared/spiderman
evaluate() {  # NAME [ADAPTER]: greedy EX on SpiderMan test, prefix engine, one batch
  step eval_$1 python -m studio eval --model $M ${2:+--adapter $2} --dataset spiderman_test --batch-size 1034 \
    --out $R/eval-$1
}
prepare_sft() {  # convert the built-in model, import SpiderMan (.gpu-data/), train SFT; $S = the SFT run
  step convert python -m studio model info || return 1
  step import python -m studio data import --format csv --path .gpu-data --name spiderman --schema-style ddl \
    --cutoff-len 2048 || return 1
  step sft python -m studio train configs/spiderman_sft.yaml || return 1
  S=$(ls -d $R/sft-* | head -1)
}
