#!/usr/bin/env bash
# The GPU session's one prepared command (benchmarks/gpu/README.md): assemble the staged base model, train the
# demo and the Amazon adapters side by side in 4-bit NF4, evaluate the Amazon adapter (weights tuned on the
# validation users), then benchmark recommend() on CUDA. Every result is written to $OUT as soon as it exists.
set -uo pipefail
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false GENREC_CACHE=/tmp/genrec_cache
export PYTHONPATH=/tmp/site:/tmp/minilm:$PWD
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT" /tmp/ad
S=/tmp/stage
G=$S/gemma-3-270m-q4_k_m.gguf
A=.gpu/data/amazon
log() { echo "[$(date +%T)] $*"; }
[ -f "$G" ] || cat $S/part1 $S/part2 $S/part3 $S/part4 .gpu/g5/part5 > "$G"
echo "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818  $G" | sha256sum -c || exit 3
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
log "convert the GGUF once"
python3 -c "from genrec.base_model import resolve_model_dir as r; print(r('$G'))" 2>&1 | tail -1 || exit 4
log "train both adapters (NF4, in parallel)"
python3 benchmarks/gpu/train_adapter.py --catalog genrec/demo/catalog.jsonl \
  --interactions genrec/demo/shoppers/interactions.jsonl --users genrec/demo/shoppers/users.jsonl \
  --train-users genrec/demo/shoppers/splits.json --emb .gpu/data/demo_emb.npz --gguf "$G" --out /tmp/ad/demo \
  --batch-size "${BATCH:-32}" --epochs "${DEMO_EPOCHS:-3}" --minutes "${TRAIN_MIN:-3}" > "$OUT/train_demo.log" 2>&1 &
python3 benchmarks/gpu/train_adapter.py --catalog $A/items.jsonl --interactions $A/interactions.jsonl \
  --train-users $A/splits.json --emb .gpu/data/amazon_emb.npz --gguf "$G" --out /tmp/ad/amazon \
  --batch-size "${BATCH:-32}" --epochs "${AMAZON_EPOCHS:-3}" --minutes "${TRAIN_MIN:-3}" > "$OUT/train_amazon.log" 2>&1 &
wait
tail -n 2 "$OUT/train_demo.log" "$OUT/train_amazon.log"
tar -C /tmp/ad -czf "$OUT/demo_adapter.tgz" demo
tar -C /tmp/ad -czf "$OUT/amazon_adapter.tgz" amazon
log "evaluate the Amazon adapter"
genrec eval --data $A --systems popularity,tfidf,embedding,itemknn,lightfm,llm,llm+adapter --adapter /tmp/ad/amazon \
  --out /tmp/eval ${EVAL_ARGS:-} > "$OUT/eval.log" 2>&1
tail -n 40 "$OUT/eval.log"
tar -C /tmp -czf "$OUT/eval.tgz" eval
log "speed on CUDA"
python3 benchmarks/speed.py --device "${DEVICE:-cuda}" --adapter /tmp/ad/demo --base "$G" --sizes "${SPEED_SIZES:-10000}" \
  --requests "${SPEED_REQ:-20}" --explained 3 --batch-sizes 1,16,64,256 --name speed_gpu 2>&1 | grep -v Warn | tail -20
cp benchmarks/results/speed_gpu.json benchmarks/results/speed_gpu.md "$OUT/" 2>/dev/null
log done
