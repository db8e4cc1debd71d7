# Source from the repository root on the GPU machine (no package index there):
#   . bench/gpu/env.sh
# Installs the carried wheels (.whl/), joins the staged model chunks (/root/stage/c*, the
# GGUF cut into pieces small enough to transfer) into the built-in model's GGUF
# (sha256-checked by the studio), and points the studio's cache and workspace at /root.
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /root/site .whl/*.whl
export PYTHONPATH="/root/site:$PWD" PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
if [ ! -f /root/stage/model.gguf ]; then cat /root/stage/c0? > /root/stage/model.gguf; fi
export STUDIO_BUILTIN_GGUF=/root/stage/model.gguf STUDIO_CACHE=/root/cache STUDIO_WORKSPACE=/root/ws
