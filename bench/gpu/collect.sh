#!/usr/bin/env bash
# On the GPU machine: pack what a recipe produced into $OUT (small files only: no weights, no
# studio.db): /root/steps.jsonl, /root/logs, the run folders and the recipes' /root/*.out files;
# with ADAPTER_DIR, also its adapter weights in 15 MiB pieces (join with cat).
#   OUT=DIR bash bench/gpu/collect.sh [ADAPTER_DIR]
mkdir -p "$OUT"
mapfile -t outs < <(cd /root && ls ./*.out 2>/dev/null)
tar czf "$OUT/results.tgz" -C /root --exclude='*.safetensors' --exclude='*.bin' \
  --exclude='checkpoint-*' --exclude='*.pt' --exclude='*.pth' \
  steps.jsonl logs ws/runs "${outs[@]}" 2>/dev/null
if [ -n "$1" ]; then
  tar cf - -C "$1" . | split -b 15M - "$OUT/adapter.tar.part-"
fi
ls -la "$OUT"
