"""The paper's tables from score files: a row per system, a column per pair, AVE with the gain over
Multilingual ("29.43+0.56"), Para (exact parameter count of the model(s) as run), as CSV, Markdown
and LaTeX (booktabs).

Beyond the paper: chrF beside BLEU in the CSV; mean and std over training seeds when there are
several; paired bootstrap resampling (sacreBLEU's own implementation) of each system against
Multilingual per pair, p-values in the CSV and a dagger on cells with p < 0.05. The best cell of
each column is bold.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sacrebleu.metrics import BLEU
from sacrebleu.significance import PairedTest

from .fileio import atomic_open, read_lines
from .languages import Pair
from .systems import label, method_system, number

log = logging.getLogger(__name__)
BASELINE = "multilingual"
ALPHA = 0.05


@dataclass
class Row:
    system: str  # the system whose scores fill the row
    label: str   # what the table calls it


def table_layout(systems: list[str], method: dict, sweeps: dict) -> dict[str, list[Row]]:
    """Which systems each table shows, in order: main (the configured systems), rho (Table 3),
    k (the k sweep, per importance) and variants (Figure 6's allocations); empty sweeps are left out."""
    m = method
    layout = {
        "main": [Row(s, label(s)) for s in systems],
        "rho": [Row(method_system("te", r, m["k"], m["variant"]), f"ρ = {number(r)}") for r in sweeps["rho"]],
        "k": [Row(method_system(i, m["rho"], k, m["variant"]), f"{i.upper()} k = {number(k)}")
              for i in sweeps["importance"] for k in sweeps["k"]],
        "variants": [Row(method_system("te", m["rho"], m["k"], v), VARIANT_LABELS[v]) for v in sweeps["variants"]],
    }
    return {name: rows for name, rows in layout.items() if rows}


VARIANT_LABELS = {"pair": "by pair", "source": "by source", "target": "by target", "separate": "separate enc-dec"}


def read_scores(paths: list[str | Path]) -> pd.DataFrame:
    """Score CSVs (one per system, split and seed) -> one frame with a ``seed`` column taken from the
    ``seed{N}`` directory each file lies in."""
    frames = []
    for path in paths:
        m = re.search(r"seed(\d+)", str(path))
        if m is None:
            raise ValueError(f"{path} is not under a seed{{N}} directory")
        df = pd.read_csv(path)
        df["seed"] = int(m.group(1))
        frames.append(df)
    if not frames:
        raise ValueError("no score files")
    return pd.concat(frames, ignore_index=True)


def paired_bootstrap(baseline: list[str], system: list[str], references: list[str], samples: int) -> float:
    """p-value of sacreBLEU's paired bootstrap test of ``system`` against ``baseline`` (BLEU); 1
    when both score the same (sacreBLEU then reports 1/(samples+1), which is no evidence at all)."""
    bleu = BLEU()
    if bleu.corpus_score(system, [references]).score == bleu.corpus_score(baseline, [references]).score:
        return 1.0
    test = PairedTest([("baseline", baseline), ("system", system)], {"BLEU": BLEU()}, [references],
                      test_type="bs", n_samples=samples)
    _, results = test()
    return float(results["BLEU"][1].p_value)


def pair_label(pair: str) -> str:
    p = Pair.parse(pair)
    return f"{p.src.capitalize()}→{p.tgt.capitalize()}"


def build_table(scores: pd.DataFrame, rows: list[Row], pairs: list[str], parameters: dict[str, int],
                pvalues: dict[tuple[str, str], float] | None = None) -> pd.DataFrame:
    """The numeric table: per pair BLEU mean/std over seeds, chrF, p-value; AVE, gain over
    Multilingual (NaN when it is not in ``scores``), parameters."""
    pvalues = pvalues or {}
    means = scores.groupby(["system", "pair"])[["bleu", "chrf"]].mean()
    stds = scores.groupby(["system", "pair"])["bleu"].std(ddof=1)
    seeds = scores.groupby("system")["seed"].nunique()
    per_seed_ave = scores.groupby(["system", "seed"])["bleu"].mean()
    base_ave = per_seed_ave[BASELINE].mean() if BASELINE in per_seed_ave.index.get_level_values(0) else float("nan")
    out = []
    for row in rows:
        if row.system not in seeds.index:
            raise ValueError(f"no scores for system {row.system!r}")
        rec = {"label": row.label, "system": row.system, "seeds": int(seeds[row.system])}
        for pair in pairs:
            if (row.system, pair) not in means.index:
                raise ValueError(f"no score for {row.system} on {pair}")
            rec[f"{pair}_bleu"] = means.loc[(row.system, pair), "bleu"]
            rec[f"{pair}_bleu_std"] = stds.get((row.system, pair), float("nan"))
            rec[f"{pair}_chrf"] = means.loc[(row.system, pair), "chrf"]
            rec[f"{pair}_p"] = pvalues.get((row.system, pair), float("nan"))
        aves = per_seed_ave[row.system]
        rec["ave_bleu"] = aves.mean()
        rec["ave_bleu_std"] = aves.std(ddof=1) if len(aves) > 1 else float("nan")
        rec["ave_chrf"] = sum(rec[f"{p}_chrf"] for p in pairs) / len(pairs)
        rec["ave_gain"] = rec["ave_bleu"] - base_ave
        rec["parameters"] = parameters.get(row.system)
        out.append(rec)
    return pd.DataFrame(out)


def _cell(mean: float, std: float, bold: bool, significant: bool, fmt: str) -> str:
    text = f"{mean:.2f}" + (f" ± {std:.2f}" if std == std else "")
    if fmt == "tex":
        text = text.replace("±", r"$\pm$")
        text = rf"\textbf{{{text}}}" if bold else text
        return text + (r"$^\dagger$" if significant else "")
    text = f"**{text}**" if bold else text
    return text + ("†" if significant else "")


def format_table(table: pd.DataFrame, pairs: list[str], fmt: str) -> pd.DataFrame:
    """Display cells for ``fmt`` ("md" or "tex"): best per column bold, dagger where p < 0.05."""
    disp = pd.DataFrame({"System": table["label"] if fmt == "md" else table["label"].map(latex_escape)})
    for pair in pairs:
        best = table[f"{pair}_bleu"].max()
        disp[pair_label(pair)] = [
            _cell(r[f"{pair}_bleu"], r[f"{pair}_bleu_std"], r[f"{pair}_bleu"] == best, r[f"{pair}_p"] < ALPHA, fmt)
            for _, r in table.iterrows()
        ]
    best = table["ave_bleu"].max()
    ave = []
    for _, r in table.iterrows():
        cell = _cell(r["ave_bleu"], r["ave_bleu_std"], r["ave_bleu"] == best, False, fmt)
        if r["system"] != BASELINE and r["ave_gain"] == r["ave_gain"]:
            cell += f"{round(r['ave_gain'], 2) + 0.0:+.2f}"  # + 0.0: no "-0.00"
        ave.append(cell)
    disp["AVE"] = ave
    disp["Para"] = [f"{p / 1e6:.2f}M" if p == p and p is not None else "" for p in table["parameters"]]
    if fmt == "tex":
        disp.columns = [latex_escape(c) for c in disp.columns]
    return disp


def latex_escape(text: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"), ("#", r"\#"),
                 ("ρ", r"$\rho$"), ("→", r"$\rightarrow$"), ("±", r"$\pm$"), ("†", r"$^\dagger$")):
        text = text.replace(a, b)
    return text


def footer(signature: str, seeds: int, samples: int) -> str:
    parts = [f"BLEU: sacreBLEU {signature}."]
    if seeds > 1:
        parts.append(f"Mean ± std over {seeds} training seeds.")
    if samples:
        parts.append(f"† p < {ALPHA} in a paired bootstrap test against Multilingual ({samples} samples, first seed).")
    parts.append("Bold: best in column. AVE: average BLEU, then the gain over Multilingual. Para: parameters.")
    return " ".join(parts)


def write_table(table: pd.DataFrame, pairs: list[str], caption: str, prefix: str | Path) -> None:
    """``prefix``.csv (numbers), .md and .tex (booktabs, caption holding the signature)."""
    prefix = str(prefix)
    with atomic_open(prefix + ".csv") as f:
        table.to_csv(f, index=False, float_format="%.4f")
    with atomic_open(prefix + ".md") as f:
        f.write(format_table(table, pairs, "md").to_markdown(index=False) + "\n\n" + caption + "\n")
    tex = format_table(table, pairs, "tex").to_latex(index=False, escape=False, column_format="l" + "r" * (len(pairs) + 2))
    body = tex.replace(r"\begin{tabular}", r"\centering" + "\n" + r"\begin{tabular}", 1)
    with atomic_open(prefix + ".tex") as f:
        f.write("\\begin{table}[t]\n" + body + f"\\caption{{{latex_escape(caption)}}}\n\\end{{table}}\n")


def significance(hypotheses: dict[str, dict[str, list[str]]], references: dict[str, list[str]],
                 systems: list[str], samples: int) -> dict[tuple[str, str], float]:
    """p-value per (system, pair) against Multilingual; nothing when it or ``samples`` is missing."""
    if samples <= 0 or BASELINE not in hypotheses:
        return {}
    out = {}
    for system in systems:
        if system == BASELINE:
            continue
        for pair, refs in references.items():
            out[(system, pair)] = paired_bootstrap(hypotheses[BASELINE][pair], hypotheses[system][pair], refs, samples)
    return out


def make_tables(tables: dict[str, list[Row]], pairs: list[str], split: str, score_files: list[str],
                hypothesis_dir: str, reference_dir: str, model_dirs: dict[str, list[str]], samples: int,
                out_dir: str) -> None:
    """Entry point of the tables rule: every table of ``tables`` (name -> rows) under ``out_dir``."""
    scores = read_scores(score_files)
    scores = scores[scores["split"] == split]
    systems = list(dict.fromkeys(r.system for rows in tables.values() for r in rows))
    parameters = {}
    for system in systems:
        cards = [json.loads(Path(d, "model.json").read_text()) for d in model_dirs[system]]
        parameters[system] = sum(c["parameters"] for c in cards)
    references = {p: read_lines(Path(reference_dir, f"{split}.{p}.tgt")) for p in pairs}
    needed = (set(systems) | {BASELINE}) if samples else set()
    hyps = {s: {p: read_lines(Path(hypothesis_dir, s, f"{split}.{p}.txt")) for p in pairs}
            for s in needed if (Path(hypothesis_dir, s)).exists()}
    pvalues = significance(hyps, references, systems, samples)
    signature = scores["bleu_signature"].iloc[0]
    n_seeds = int(scores["seed"].nunique())
    for name, rows in tables.items():
        table = build_table(scores, rows, pairs, parameters, pvalues)
        caption = f"{name} ({split}). " + footer(signature, n_seeds, samples if pvalues else 0)
        write_table(table, pairs, caption, Path(out_dir) / name)
        log.info("table %s: %d rows", name, len(table))
