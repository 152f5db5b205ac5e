#!/usr/bin/env bash
# Pack an experiment's encoded data (data/: arrays and dict.txt) and its raw dev/test references
# into one compressed file, small enough to carry to a lent GPU machine (64 MiB in all), where
# bench/engine.py, bench/method.py and bench/quality.py read it back:
#
#   bash bench/pack_data.sh results/bible-m2m device_carry      # here
#   tar -xJf device_carry/bible-m2m.tar.xz                      # there, in the repository root
set -euo pipefail
exp=${1:?usage: pack_data.sh EXPERIMENT_DIR OUT_DIR}
out=${2:?usage: pack_data.sh EXPERIMENT_DIR OUT_DIR}
[ -f "$exp/data/dict.txt" ] || { echo "pack_data.sh: $exp/data/dict.txt not found: build the data first (snakemake ... $exp/data/dict.txt)" >&2; exit 1; }
mkdir -p "$out"
name=$(basename "$exp")
tmp="$out/.$name.tar.xz.tmp"
tar -cf - "$exp/data" "$exp"/raw/dev.*.tgt "$exp"/raw/test.*.tgt | xz -T0 -6 > "$tmp"
mv "$tmp" "$out/$name.tar.xz"
ls -l "$out/$name.tar.xz"
