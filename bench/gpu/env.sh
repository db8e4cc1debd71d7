# Source from the repository root on a GPU machine without a package index:
#   . bench/gpu/env.sh
# Installs the wheels carried in .whl/ (the packages the machine lacks, such as trl, datasets,
# gguf, sqlglot and pymysql; with a package index, `pip install -r requirements.txt` and a CUDA
# build of torch do the same), joins the built-in model's GGUF from the pieces /root/stage/c0?
# (the file split to travel; the studio checks its sha256 when it converts it), and points the
# studio's cache at /root/cache and its workspace at $ROOT/ws (ROOT: default /root; a recipe run
# beside another on the same GPU takes its own ROOT, e.g. /root/a).
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /root/site .whl/*.whl
export PYTHONPATH="/root/site:$PWD" PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
# two pipelines on one GPU fragment its memory; expandable segments let each use what is free
export PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True
if [ ! -f /root/stage/model.gguf ]; then cat /root/stage/c0? > /root/stage/model.gguf; fi
export ROOT=${ROOT:-/root}
export STUDIO_BUILTIN_GGUF=/root/stage/model.gguf STUDIO_CACHE=/root/cache STUDIO_WORKSPACE=$ROOT/ws
export HF_DATASETS_CACHE=$ROOT/hf-datasets
