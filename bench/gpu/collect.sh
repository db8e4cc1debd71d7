#!/usr/bin/env bash
# On the GPU machine: pack what a round produced into $OUT (small files only: no weights,
# no studio.db); with ADAPTER_DIR, also its adapter weights in 15 MiB pieces (join with cat).
#   bash bench/gpu/collect.sh [ADAPTER_DIR]
mkdir -p "$OUT"
tar czf "$OUT/results.tgz" -C /root --exclude='*.safetensors' --exclude='*.bin' --exclude='checkpoint-*' \
  --exclude='*.pt' --exclude='*.pth' steps.jsonl logs ws/runs $(cd /root && ls round*.out 2>/dev/null) 2>/dev/null
if [ -n "$1" ]; then
  tar cf - -C "$1" . | split -b 15M - "$OUT/adapter.tar.part-"
fi
ls -la "$OUT"
