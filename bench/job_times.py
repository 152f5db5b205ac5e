"""Wall time of every job of an experiment, from the benchmark file Snakemake writes per job
(``benchmark:`` of each rule), sorted by rule: a TSV of rule, job, seconds, max RSS (MB).

    .venv/bin/python bench/job_times.py results/bible-demo
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path


def main() -> None:
    exp = Path(sys.argv[1])
    rows = []
    for tsv in sorted(exp.glob("**/benchmarks/**/*.tsv")):
        parts = tsv.relative_to(exp).parts
        at = parts.index("benchmarks")
        rule = parts[at + 1] if len(parts) > at + 2 else tsv.stem
        job = "/".join(parts[at + 2:])[: -len(".tsv")] if len(parts) > at + 2 else ""
        with open(tsv) as f:
            record = next(csv.DictReader(f, delimiter="\t"), None)
        if record:
            rows.append((rule, "/".join(parts[:at]) + ("/" if at else "") + job, float(record["s"]),
                         record.get("max_rss", "")))
    w = csv.writer(sys.stdout, delimiter="\t", lineterminator="\n")
    w.writerow(["rule", "job", "seconds", "max_rss_mb"])
    for rule, job, seconds, rss in sorted(rows):
        w.writerow([rule, job, f"{seconds:.1f}", rss])
    total = sum(r[2] for r in rows)
    w.writerow(["all", f"{len(rows)} jobs", f"{total:.1f}", ""])


if __name__ == "__main__":
    main()
