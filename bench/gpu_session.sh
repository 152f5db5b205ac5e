#!/usr/bin/env bash
# The GPU figures of the engine issue, for a lent GPU machine that has PyTorch but neither
# Snakemake nor internet. Three steps:
#
#   bash bench/gpu_session.sh prepare   # here: build device_carry/ (encoded bible-m2m data, wheels)
#   bash bench/gpu_session.sh speed     # there: bench/engine.py and bench/method.py, transformer base
#   bash bench/gpu_session.sh quality   # there: Multilingual on bible-m2m, beam-4 test BLEU per pair
#
# "there" runs in the repository root with device_carry/ carried along; results go to $OUT.
# QUALITY_SET adds config overrides to the quality run, e.g. QUALITY_SET="train.max_epochs=10";
# EXP, CONFIG and PRESET (bench/engine.py's) change what runs (a CPU smoke test:
# EXP=results/bible-demo CONFIG=config.yaml PRESET=demo QUALITY_SET=train.max_epochs=1).
set -euo pipefail
EXP=${EXP:-results/bible-m2m}
CONFIG=${CONFIG:-configs/bible-m2m.yaml}
PRESET=${PRESET:-base}
CARRY=device_carry
# what the device image lacks of the package's imports (versions from requirements/)
WHEELS="jsonschema jsonschema-specifications referencing rpds-py sacremoses"

prepare() {
  .venv/bin/snakemake --cores all -q --until encode --configfile "$CONFIG"   # the encoded data, nothing more
  bash bench/pack_data.sh "$EXP" "$CARRY"
  rm -rf "$CARRY/wheels"
  local pins
  pins=$(for w in $WHEELS; do grep -h -i -E "^${w//-/[-_]}==" requirements/*.txt; done)
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d "$CARRY/wheels" $pins
  du -sh "$CARRY"
}

setup_device() {
  export PYTHONUNBUFFERED=1 OUT=${OUT:-/tmp/neuralloc-gpu}
  mkdir -p "$OUT"
  if ! python3 -c "import jsonschema, sacremoses" 2>/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site "$CARRY"/wheels/*.whl
    export PYTHONPATH=/tmp/site
  fi
  export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
  [ -f "$EXP/data/dict.txt" ] || tar -xJf "$CARRY/$(basename "$EXP").tar.xz"
  { nvidia-smi || true; python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU')"; } > "$OUT/device.txt" 2>&1
}

speed() {
  setup_device
  python3 bench/engine.py "$EXP" --preset "$PRESET" --max-tokens 10800 --updates 300 \
    --decode-sentences 1500 --decode-max-tokens 64000 2>&1 | tee "$OUT/engine.md"
  python3 bench/engine.py "$EXP" --preset "$PRESET" --max-tokens 10800 --updates 300 --compile \
    --decode-sentences 100 2>&1 | tee "$OUT/engine-compiled.md"
  python3 bench/method.py "$EXP" --preset "$PRESET" --max-tokens 10800 --updates 200 2>&1 | tee "$OUT/method.md"
}

quality() {
  setup_device
  local sets=(train.max_tokens=10800 train.lr=0.0007 train.warmup_updates=2500 train.max_epochs=20
              train.validate_interval=3000 train.valid_bleu_sentences=0 decode.max_tokens=64000)
  for s in ${QUALITY_SET:-}; do sets+=("$s"); done
  python3 bench/quality.py "$CONFIG" "$EXP" --out /tmp/quality --threads 8 \
    $(for s in "${sets[@]}"; do echo --set "$s"; done) 2>&1 | tee "$OUT/quality.log"
  cp /tmp/quality/multilingual/summary.json /tmp/quality/multilingual/scores.test.csv \
     /tmp/quality/multilingual/model/train_log.csv "$OUT/"
}

case "${1:-}" in
  prepare|speed|quality) "$1" ;;
  *) echo "usage: bash bench/gpu_session.sh prepare|speed|quality" >&2; exit 2 ;;
esac
