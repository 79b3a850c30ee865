#!/usr/bin/env bash
# The GPU session's one prepared command (benchmarks/gpu/README.md): join the staged chunks, install the carried
# packages, convert the base once, train the demo and then the Amazon adapter in 4-bit NF4 within wall-clock
# budgets, then time recommend() on CUDA if time is left. Every result lands in $OUT as soon as it
# exists. The shop fit and the evaluation run back on the CPU machine (they need MiniLM, which this one lacks).
set -uo pipefail
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false GENREC_CACHE=/tmp/genrec_cache
OUT=${OUT:-/tmp/out}
S=/tmp/stage
SITE=${SITE:-/tmp/site}
mkdir -p "$OUT" /tmp/ad "$S" "$SITE"
log() { echo "[$(date +%T)] $*"; }
T0=$(date +%s)
log "join and unpack the staged chunks"
cp .gpu/c*/part* "$S"/ 2>/dev/null
cat $(ls "$S"/part* | sort) | tar -C "$S" -xzf - || exit 3
(cd "$S" && sha256sum -c data/gguf.sha256) || exit 3
G=$S/gemma-3-270m-q4_k_m.gguf
D=$S/data
python3 -m pip install -q --no-index --no-deps --no-compile --target "$SITE" "$S"/pkg/*.whl || exit 4
tar -C "$SITE" -xzf "$S"/pkg/bitsandbytes.tgz || exit 4
export PYTHONPATH=$SITE:$PWD
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
log "convert the GGUF once (the tokenizer staged from the CPU machine's conversion: convert.py)"
python3 benchmarks/gpu/convert.py "$G" "$D"/tokenizer 2>&1 | tail -1 || exit 5
# One after the other: side by side at batch 64 the two processes ran the 139 GB card out of memory (README).
common=(--gguf "$G" --batch-size "${BATCH:-64}" --lr "${LR:-4e-4}" --quantization "${QUANT:-nf4}")
log "train the demo adapter (NF4, ${DEMO_EPOCHS:-3} epochs, at most ${DEMO_MIN:-3} min)"
python3 benchmarks/gpu/train_adapter.py --catalog genrec/demo/catalog.jsonl \
  --interactions genrec/demo/shoppers/interactions.jsonl --users genrec/demo/shoppers/users.jsonl \
  --train-users genrec/demo/shoppers/splits.json --emb "$D"/demo_emb.npz --out /tmp/ad/demo "${common[@]}" \
  --epochs "${DEMO_EPOCHS:-3}" --minutes "${DEMO_MIN:-3}" > "$OUT/train_demo.log" 2>&1
log "train the Amazon adapter (NF4, ${AMAZON_EPOCHS:-2} epochs, at most ${AMAZON_MIN:-4} min)"
python3 benchmarks/gpu/train_adapter.py --catalog "$D"/amazon/items.jsonl --interactions "$D"/amazon/interactions.jsonl \
  --train-users "$D"/amazon/splits.json --emb "$D"/amazon_emb.npz --out /tmp/ad/amazon "${common[@]}" \
  --epochs "${AMAZON_EPOCHS:-2}" --minutes "${AMAZON_MIN:-4}" > "$OUT/train_amazon.log" 2>&1
tail -n 3 "$OUT/train_demo.log" "$OUT/train_amazon.log"
# a file over 16 MiB does not come back from the machine: parts of 15 MB
for a in demo amazon; do [ -d /tmp/ad/$a ] && tar -C /tmp/ad -czf - $a | split -b 15000000 - "$OUT/${a}_adapter.tgz.part"; done
ls -la "$OUT"
left=$(( ${BUDGET_S:-600} - $(date +%s) + T0 ))
log "$left s of the call's budget left"
if [ -d /tmp/ad/demo ] && [ "$left" -gt 100 ]; then
  log "speed on ${DEVICE:-cuda}"
  timeout $((left - 30)) python3 benchmarks/speed.py --device "${DEVICE:-cuda}" --adapter /tmp/ad/demo --base "$G" \
    --encoder random --sizes "${SPEED_SIZES:-10000}" --requests "${SPEED_REQ:-20}" --explained 3 \
    --batch-sizes 1,16,64 --name speed_gpu 2>&1 | grep -v Warn | tail -20
  cp benchmarks/results/speed_gpu.json benchmarks/results/speed_gpu.md "$OUT/" 2>/dev/null
fi
log done
