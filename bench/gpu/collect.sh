#!/usr/bin/env bash
# On the GPU machine: pack what a recipe produced into $OUT (small files only: no weights, no
# databases, no studio.db): under /root and each lane folder /root/*/ that has one, steps.jsonl,
# logs/, the run folders and the recipes' *.out files; with ADAPTER_DIR, also its adapter weights
# in 15 MiB pieces (join with cat).
#   OUT=DIR bash bench/gpu/collect.sh [ADAPTER_DIR]
mkdir -p "$OUT"
mapfile -t found < <(cd /root && ls -d ./*.out ./steps.jsonl ./logs ./ws/runs \
  ./*/*.out ./*/steps.jsonl ./*/logs ./*/ws/runs 2>/dev/null | grep -v '^\./\(cache\|stage\|site\)/')
tar czf "$OUT/results.tgz" -C /root --exclude='*.safetensors' --exclude='*.bin' \
  --exclude='checkpoint-*' --exclude='*.pt' --exclude='*.pth' --exclude='*.sqlite' \
  "${found[@]}" 2>/dev/null
if [ -n "$1" ]; then
  tar cf - -C "$1" . | split -b 15M - "$OUT/adapter.tar.part-"
fi
ls -la "$OUT"
