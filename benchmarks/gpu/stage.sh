#!/usr/bin/env bash
# One staging call on the GPU machine: keep the chunk this call carried (.gpu/cN) in /tmp/stage, which the
# machine keeps while it stays warm; the first call also shows what the machine has (benchmarks/gpu/README.md).
set -u
mkdir -p /tmp/stage
cp .gpu/c*/part* /tmp/stage/ 2>/dev/null
ls -la /tmp/stage | tail -n +2
if [ "${PROBE:-0}" = 1 ]; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  python3 -c "import sys, torch, transformers, peft, accelerate; print(sys.version.split()[0], 'torch', torch.__version__, \
torch.version.cuda, torch.cuda.is_available(), 'transformers', transformers.__version__, 'peft', peft.__version__, \
'accelerate', accelerate.__version__)"
  nproc; free -g | head -2
fi
