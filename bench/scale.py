"""How the workflow's cost grows with the number of language pairs, on Bible configs of 2-21
one-to-many targets (English -> N) and 3-16 many-to-many languages, one seed, default systems and
sweeps. For each size: the jobs per rule of a dry run; the GPU jobs and all jobs a SLURM run
submits through profiles/slurm (local rules excluded, a bundle of grouped jobs counted once, the
Individual baseline's bilingual trainings, one per pair by definition, counted apart); the dry
run's time; and with --compute the tables' time, the allocation's time and the training data's
memory (bench/scale_compute.py). Then a least-squares line per column: value = a + b * pairs.

    .venv/bin/python bench/scale.py                 # job counts and dry-run times
    .venv/bin/python bench/scale.py --compute       # and the compute figures
    .venv/bin/python bench/scale.py --o2m 2 21 --m2m 12
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

# English first, then the order of configs/bible-22.yaml: a size-N config takes the first N
ORDER = ["en", "es", "pt", "fr", "it", "ro", "de", "pl", "ru", "uk", "tr", "sw", "id", "tl", "vi", "hi", "bn",
         "fa", "ar", "zh", "ja", "ko"]
PER_PAIR_BASELINE = "train_individual"


def o2m_pairs(targets: int) -> list[str]:
    return [f"en-{t}" for t in ORDER[1:targets + 1]]


def m2m_pairs(languages: int) -> list[str]:
    langs = ORDER[:languages]
    return [f"{a}-{b}" for a in langs for b in langs if a != b]


def local_rules() -> set[str]:
    """The Snakefile's localrules (they run where Snakemake runs, never submitted)."""
    text = (REPO / "Snakefile").read_text()
    block = re.search(r"^localrules:\n((?:[ \t]+\w+,?\n)+)", text, re.M)
    return set(re.findall(r"\w+", block.group(1))) if block else set()


def dry_run(pairs: list[str], workdir: Path) -> tuple[dict, float]:
    """Jobs of a dry run through the SLURM profile: {"rules": Counter, "gpu": Counter, "bundles":
    Counter(group -> bundles)}, and its seconds."""
    config = {"experiment": f"scale{len(pairs)}", "pairs": pairs,
              "corpus": {"name": "bible", "bible": {"dev_size": 1000, "test_size": 1500, "train_size": None}}}
    cfg = workdir / "config.yaml"
    cfg.write_text(yaml.safe_dump(config))
    cmd = [sys.executable, "-m", "snakemake", "-n", "-s", str(REPO / "Snakefile"), "-d", str(workdir),
           "--configfile", str(cfg), "--profile", str(REPO / "profiles/slurm")]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"dry run of {len(pairs)} pairs failed:\n{proc.stderr[-3000:]}")
    rules, gpu, bundles = Counter(), Counter(), Counter()
    rule = None
    for line in proc.stdout.splitlines():
        if m := re.match(r"\s*rule (\w+):$", line):
            rule = m.group(1)
            rules[rule] += 1
        elif m := re.search(r"Group job (\w+) ", line):
            bundles[m.group(1)] += 1
        elif rule and line.strip().startswith("resources:") and re.search(r"\bgpu=[1-9]", line):
            gpu[rule] += 1
    return {"rules": rules, "gpu": gpu, "bundles": bundles}, seconds


def grouped_rules() -> dict[str, str]:
    """rule -> its group in profiles/slurm (the text stages' bundles)."""
    profile = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())
    return dict(entry.split("=") for entry in profile.get("groups", []))


def row(kind: str, pairs: list[str], workdir: Path, compute: bool) -> dict:
    jobs, seconds = dry_run(pairs, workdir)
    rules, gpu, bundles = jobs["rules"], jobs["gpu"], jobs["bundles"]
    local, groups = local_rules(), grouped_rules()
    gpu_groups = {g for r, g in groups.items() if gpu[r]}
    alone = [r for r in rules if r not in local and r not in groups and r != PER_PAIR_BASELINE]
    out = {"setting": kind, "pairs": len(pairs), "jobs": sum(rules.values()),
           "gpu_jobs": sum(gpu[r] for r in alone) + sum(n for g, n in bundles.items() if g in gpu_groups),
           "cluster_jobs": sum(rules[r] for r in alone) + sum(bundles.values()),
           "individual": rules[PER_PAIR_BASELINE], "bundled": sum(rules[r] for r in groups),
           "bundles": sum(bundles.values()), "importance": rules["importance"], "translate": rules["translate"],
           "dry_run_s": round(seconds, 1)}
    if compute:
        import scale_compute

        out["tables_s"] = round(scale_compute.tables_seconds(len(pairs)), 2)
        out["allocation_s"] = round(scale_compute.allocation_seconds(len(pairs)), 3)
        out["data_mb"] = round(scale_compute.data_memory_mb(len(pairs)))
    out["rules"] = dict(sorted(rules.items()))
    return out


def fit(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least squares y = a + b x."""
    n, mx, my = len(xs), sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else 0.0
    return my - b * mx, b


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--o2m", type=int, nargs="*", default=[2, 5, 10, 21], help="target counts (English -> N)")
    ap.add_argument("--m2m", type=int, nargs="*", default=[3, 6, 9, 12, 16], help="language counts (N x (N-1) pairs)")
    ap.add_argument("--compute", action="store_true", help="also the tables, allocation and memory figures")
    args = ap.parse_args()
    sizes = [("o2m", o2m_pairs(n)) for n in args.o2m] + [("m2m", m2m_pairs(n)) for n in args.m2m]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind, pairs in sizes:
            workdir = Path(tmp) / f"{kind}{len(pairs)}"
            workdir.mkdir()
            rows.append(row(kind, pairs, workdir, args.compute))
            r = rows[-1]
            print(f"{kind} {r['pairs']:>3} pairs: " + ", ".join(f"{k} {v}" for k, v in r.items()
                                                           if k not in ("setting", "pairs", "rules")), flush=True)
    columns = [c for c in rows[0] if c not in ("setting", "pairs", "rules")]
    print("\n| setting | pairs | " + " | ".join(columns) + " |")
    print("|---|---:|" + "---:|" * len(columns))
    for r in rows:
        print(f"| {r['setting']} | {r['pairs']} | " + " | ".join(str(r[c]) for c in columns) + " |")
    print("\nfits over all sizes, value = a + b * pairs:")
    xs = [r["pairs"] for r in rows]
    for c in columns:
        a, b = fit(xs, [float(r[c]) for r in rows])
        print(f"  {c}: a = {a:.2f}, b = {b:.4f}")
    print("\njobs per rule at the largest size:", rows[-1]["rules"])


if __name__ == "__main__":
    main()
