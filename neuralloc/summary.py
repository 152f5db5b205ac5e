"""What the end of a run prints: the main table, the verdict on each of the paper's claims, where
the tables, figures and report are, and a few sample translations per system, so the first run
shows what the models do. Torch-free; it reads only what exists (a run that built one file prints
what it can)."""

from __future__ import annotations

import csv
import json
import os

from . import layout
from .design import models_of
from .fileio import read_lines
from .systems import label


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def corpus_notes(exp: str) -> list[str]:
    """What a corpus of your own files held that a user should know: empty training lines dropped,
    training examples whose source is also a test source (from the corpus's manifest)."""
    import json

    path = layout.manifest(exp)
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        manifest = json.load(f)
    empty = {p: n for p, n in manifest.get("empty_training_lines_dropped", {}).items() if n}
    overlap = {p: n for p, n in manifest.get("training_sources_also_in_test", {}).items() if n}
    if not empty and not overlap:
        return []
    out = ["", "== your corpus"]
    if empty:
        out.append("  empty training lines dropped: " + ", ".join(f"{p} {n}" for p, n in empty.items()))
    if overlap:
        what = "removed" if manifest.get("test_overlap_removed") else "kept (corpus.files.remove_test_overlap drops them)"
        out.append("  training examples whose source is also a test source, " + what + ": "
                   + ", ".join(f"{p} {n}" for p, n in overlap.items()))
    return out


def summary(exp: str, run_dir: str, systems: list[str], pairs: list[str], split: str, samples: int = 2) -> str:
    lines = []
    main = layout.table(exp, "main", "md")
    if os.path.exists(main):
        lines += ["", f"== {main}", "", open(main, encoding="utf-8").read().rstrip()]
    worse = []
    for model in dict.fromkeys(m for s in systems for m in models_of(s, pairs)):
        card = layout.model_file(run_dir, model, "model.json")
        if os.path.exists(card):
            with open(card, encoding="utf-8") as f:
                trend = json.load(f).get("trend") or {}
            if trend.get("worse"):
                worse.append(f"  {model}: {trend['warning']}")
    if worse:
        lines += ["", "== warning: models that ended worse than they started"] + worse
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
    lines += corpus_notes(exp)
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
