"""Benchmark of the data stages: per-rule times from Snakemake's benchmark files, and the
throughput of tokenization and BPE in sentences per second on one core.

    .venv/bin/python bench/data_pipeline.py results/bible-m2m [--sample 5000]

Run it after `snakemake --configfile configs/bible-m2m.yaml`; it prints a Markdown table for
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import csv
import platform
import time
from collections import defaultdict
from pathlib import Path

from neuralloc.bpe import apply, load_bpe
from neuralloc.fileio import read_lines
from neuralloc.tokenization import Tokenizer


def rule_times(exp: Path) -> dict[str, tuple[int, float, float]]:
    """rule -> (jobs, summed wall seconds, summed CPU seconds), over every seed{N}/ tree too."""
    out: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for root in [exp / "benchmarks", *sorted(exp.glob("seed*/benchmarks"))]:
        for tsv in sorted(root.rglob("*.tsv")):
            _add(out, tsv.relative_to(root).parts[0].removesuffix(".tsv"), tsv)
    return {k: tuple(v) for k, v in out.items()}


def _add(out, rule: str, tsv: Path) -> None:
    with open(tsv) as f:
        row = next(csv.DictReader(f, delimiter="\t"))
    out[rule][0] += 1
    out[rule][1] += float(row["s"])
    out[rule][2] += float(row["cpu_time"])


def throughput(exp: Path, sample: int) -> list[tuple[str, str, float]]:
    rows = []
    raw = sorted((exp / "raw").glob("train.*.src"))
    for path in raw:
        pair = path.name.split(".")[1]
        lang = pair.split("-")[0]
        lines = read_lines(path)[:sample]
        tok = Tokenizer(lang)
        t0 = time.perf_counter()
        tokenized = [tok.tokenize(l) for l in lines]
        rows.append(("tokenize", lang, len(lines) / (time.perf_counter() - t0)))
        bpe = load_bpe(exp / "bpe/codes", exp / f"bpe/vocab.{lang}", 50)
        t0 = time.perf_counter()
        apply(bpe, tokenized)
        rows.append(("apply_bpe", lang, len(lines) / (time.perf_counter() - t0)))
    seen, unique = set(), []
    for r in rows:  # one row per stage and language
        if r[:2] not in seen:
            seen.add(r[:2])
            unique.append(r)
    return unique


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("experiment_dir", type=Path)
    p.add_argument("--sample", type=int, default=5000, help="sentences per language for the throughput runs")
    args = p.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {platform.python_implementation()} {platform.python_version()}")
    times = rule_times(args.experiment_dir)
    print("\n| rule | jobs | wall s (sum) | CPU s (sum) |\n|---|---|---|---|")
    for rule, (jobs, wall, cpu) in times.items():
        print(f"| {rule} | {jobs} | {wall:.1f} | {cpu:.1f} |")
    print("\n| stage | language | sentences/s on one core |\n|---|---|---|")
    for stage, lang, rate in throughput(args.experiment_dir, args.sample):
        print(f"| {stage} | {lang} | {rate:,.0f} |")


if __name__ == "__main__":
    main()
