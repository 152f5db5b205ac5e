"""What the end of a run prints: the main table, the verdict on each of the paper's claims, where
the tables, figures and report are, and a few sample translations per system, so the first run
shows what the models do. Torch-free; it reads only what exists (a run that built one file prints
what it can)."""

from __future__ import annotations

import csv
import os

from . import layout
from .fileio import read_lines
from .systems import label


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def summary(exp: str, run_dir: str, systems: list[str], pairs: list[str], split: str, samples: int = 2) -> str:
    lines = []
    main = layout.table(exp, "main", "md")
    if os.path.exists(main):
        lines += ["", f"== {main}", "", open(main, encoding="utf-8").read().rstrip()]
    claims = layout.table(exp, "claims", "md")
    if os.path.exists(layout.table(exp, "claims", "csv")):
        with open(layout.table(exp, "claims", "csv"), encoding="utf-8", newline="") as f:
            verdicts = [(row["verdict"], row["claim"]) for row in csv.DictReader(f)]
        width = max(len(v) for v, _ in verdicts) if verdicts else 0
        lines += ["", f"== the paper's claims against this run (why: {claims})"]
        lines += [f"  {verdict:<{width}}  {claim}" for verdict, claim in verdicts]
    where = [("tables (CSV, Markdown, LaTeX, HTML)", f"{exp}/tables/"), ("figures (PNG, PDF, CSV)", f"{exp}/figures/"),
             ("the paper's claims checked", claims), ("logs of the data and table jobs", f"{exp}/logs/"),
             ("logs of the training and decoding jobs", f"{run_dir}/logs/")]
    lines += ["", "== where things are"] + [f"  {what:<38} {path}" for what, path in where if os.path.exists(path)]
    lines.append("  a report of every table and figure:    make report  (report.html)")
    shown = False
    for pair in pairs[:2]:
        src, ref = layout.raw(exp, split, pair, "src"), layout.raw(exp, split, pair, "tgt")
        hyps = {s: layout.translations(run_dir, s, split, pair) for s in systems}
        hyps = {s: path for s, path in hyps.items() if os.path.exists(path)}
        if not hyps or not os.path.exists(src):
            continue
        if not shown:
            lines += ["", f"== sample translations ({split} set)"]
            shown = True
        sources, references = read_lines(src), read_lines(ref)
        texts = {s: read_lines(path) for s, path in hyps.items()}
        width = max(len("reference:"), *(len(label(s)) + 1 for s in texts))
        for i in range(min(samples, len(sources))):
            lines += ["", f"  {pair} #{i + 1}", f"  {'source:':<{width}} {_short(sources[i])}",
                      f"  {'reference:':<{width}} {_short(references[i])}"]
            lines += [f"  {label(s) + ':':<{width}} {_short(texts[s][i])}" for s in texts]
    return "\n".join(lines) + "\n"
