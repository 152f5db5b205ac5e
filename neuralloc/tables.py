"""The paper's tables from score files: a row per system, a column per pair, AVE with the gain over
Multilingual ("29.43+0.56"), Para (exact parameter count of the model(s) as run), as CSV, Markdown
and LaTeX (booktabs).

Beyond the paper: chrF beside BLEU in the CSV; mean and std over training seeds when there are
several; the paired bootstrap of each system's difference from Multilingual, per pair and for the
average (``significance.py``: the first seed's test sets, the same resamples for every system),
with its 95% interval and p-value in the CSV and a dagger where the interval excludes zero, in
either direction. The best cell of each column is bold.

Many pairs: beyond ``WIDE_MAX_PAIRS`` a column per pair no longer reads, so Markdown, LaTeX and
HTML show the same cells turned: a summary (System, AVE, Para), then a row per pair (grouped by
source language) and a column per system, split into as many tables as keep each Markdown line
within ``MD_LINE_MAX``. The CSV keeps a row per system, whatever the pairs (the claims read it).
"""

from __future__ import annotations

import html
import json
import logging

import pandas as pd

from .design import MULTILINGUAL as BASELINE
from .design import Row
from .fileio import atomic_open, read_lines
from .languages import WIDE_MAX_PAIRS, Pair, group_pairs
from .pages import table_page
from .scoring import read_scores
from .significance import ALPHA, Interval, Resampled

log = logging.getLogger(__name__)
AVERAGE = "ave"  # the key of the average over pairs among a table's differences
MD_LINE_MAX = 200  # characters: a Markdown table line a screen shows whole


def pair_label(pair: str) -> str:
    p = Pair.parse(pair)
    return f"{p.src.capitalize()}→{p.tgt.capitalize()}"


def _evidence(rec: dict, key: str, diff: Interval | None) -> None:
    """The difference from Multilingual at ``key`` (a pair or the average): interval, p, mark."""
    nan = float("nan")
    rec[f"{key}_low"], rec[f"{key}_high"], rec[f"{key}_p"] = (diff.low, diff.high, diff.p) if diff else (nan, nan, nan)
    rec[f"{key}_marked"] = bool(diff and diff.sign != 0)


def build_table(scores: pd.DataFrame, rows: list[Row], pairs: list[str], parameters: dict[str, int],
                differences: dict[tuple[str, str], Interval] | None = None) -> pd.DataFrame:
    """The numeric table: per pair BLEU mean/std over seeds, chrF, the difference from Multilingual
    (interval, p, marked where the interval excludes zero); AVE, gain over Multilingual (NaN when
    it is not in ``scores``) and the same evidence for it; parameters. ``differences`` holds
    (system, pair or AVERAGE) -> Interval."""
    differences = differences or {}
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
            _evidence(rec, pair, differences.get((row.system, pair)))
        aves = per_seed_ave[row.system]
        rec["ave_bleu"] = aves.mean()
        rec["ave_bleu_std"] = aves.std(ddof=1) if len(aves) > 1 else float("nan")
        rec["ave_chrf"] = sum(rec[f"{p}_chrf"] for p in pairs) / len(pairs)
        rec["ave_gain"] = rec["ave_bleu"] - base_ave
        _evidence(rec, AVERAGE, differences.get((row.system, AVERAGE)))
        rec["parameters"] = parameters.get(row.system)
        out.append(rec)
    return pd.DataFrame(out)


def _mark(significant: bool, fmt: str) -> str:
    return (r"$^\dagger$" if fmt == "tex" else "†") if significant else ""


def _cell(mean: float, std: float, bold: bool, significant: bool, fmt: str) -> str:
    text = f"{mean:.2f}" + (f" ± {std:.2f}" if std == std else "")
    if fmt == "html":
        text = f"<b>{text}</b>" if bold else text
    elif fmt == "tex":
        text = text.replace("±", r"$\pm$")
        text = rf"\textbf{{{text}}}" if bold else text
    else:
        text = f"**{text}**" if bold else text
    return text + _mark(significant, fmt)


def format_table(table: pd.DataFrame, pairs: list[str], fmt: str) -> pd.DataFrame:
    """Display cells for ``fmt`` ("md", "html" or "tex"): best per column bold, dagger where marked (the
    interval of the difference from Multilingual excludes zero)."""
    escape = {"tex": latex_escape, "html": html.escape}.get(fmt, str)
    disp = pd.DataFrame({"System": table["label"].map(escape)})
    for pair in pairs:
        best = table[f"{pair}_bleu"].max()
        disp[pair_label(pair)] = [
            _cell(r[f"{pair}_bleu"], r[f"{pair}_bleu_std"], r[f"{pair}_bleu"] == best, r[f"{pair}_marked"], fmt)
            for _, r in table.iterrows()
        ]
    best = table["ave_bleu"].max()
    ave = []
    for _, r in table.iterrows():
        cell = _cell(r["ave_bleu"], r["ave_bleu_std"], r["ave_bleu"] == best, False, fmt)
        if r["system"] != BASELINE and r["ave_gain"] == r["ave_gain"]:
            cell += f"{round(r['ave_gain'], 2) + 0.0:+.2f}"  # + 0.0: no "-0.00"
            cell += _mark(bool(r.get(f"{AVERAGE}_marked")), fmt)
        ave.append(cell)
    disp["AVE"] = ave
    disp["Para"] = [f"{p / 1e6:.2f}M" if p == p and p is not None else "" for p in table["parameters"]]
    if fmt == "tex":
        disp.columns = [latex_escape(c) for c in disp.columns]
    return disp


def long_form(table: pd.DataFrame, pairs: list[str], fmt: str) -> list[pd.DataFrame]:
    """``format_table``'s cells for many pairs: the summary (System, AVE, Para), then tables of a
    row per pair (grouped by source language) and a column per system, as many systems each as
    keep a Markdown line within MD_LINE_MAX (measured on the Markdown, so every format splits
    alike)."""
    order = [p for members in group_pairs(pairs).values() for p in members]

    def turned(fmt: str) -> pd.DataFrame:
        disp = format_table(table, pairs, fmt)
        cells = disp.iloc[:, 1:1 + len(pairs)].set_axis(pairs, axis=1)[order].T.set_axis(disp.iloc[:, 0], axis=1)
        escape = latex_escape if fmt == "tex" else str
        return cells.set_axis([escape(pair_label(p)) for p in order]).rename_axis(escape("Pair")).reset_index()

    md, cells = turned("md"), turned(fmt)
    cuts = [1]  # column 0 names the pairs, in every part
    for end in range(2, md.shape[1] + 1):
        part = md.iloc[:, [0, *range(cuts[-1], end)]].to_markdown(index=False)
        if end - cuts[-1] > 1 and max(map(len, part.splitlines())) > MD_LINE_MAX:
            cuts.append(end - 1)
    cuts.append(md.shape[1])
    return [format_table(table, pairs, fmt).iloc[:, [0, -2, -1]]] + [
        cells.iloc[:, [0, *range(a, b)]] for a, b in zip(cuts, cuts[1:])]


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
        parts.append(f"†: the {100 * (1 - ALPHA):g}% confidence interval of the difference from Multilingual excludes zero "
                     f"(paired bootstrap, {samples} resamples of the first seed's test sets; on AVE, of the average gain); "
                     "the CSV gives each interval.")
    parts.append("Bold: the best system on each pair and on AVE. AVE: average BLEU, then the gain over Multilingual. Para: parameters.")
    return " ".join(parts)


def write_table(table: pd.DataFrame, pairs: list[str], caption: str, csv: str, md: str, tex: str,
                html_path: str | None = None) -> None:
    """The numbers (CSV), and the table as Markdown, LaTeX (booktabs, caption holding the signature)
    and an HTML page (the report shows it); beyond WIDE_MAX_PAIRS in ``long_form`` (the LaTeX
    tables of a row per pair as longtables, which break across pages)."""
    def shown(fmt: str) -> list[pd.DataFrame]:
        return long_form(table, pairs, fmt) if len(pairs) > WIDE_MAX_PAIRS else [format_table(table, pairs, fmt)]

    with atomic_open(csv) as f:
        table.to_csv(f, index=False, float_format="%.4f")
    with atomic_open(md) as f:
        f.write("\n\n".join(t.to_markdown(index=False) for t in shown("md")) + "\n\n" + caption + "\n")
    if html_path:
        with atomic_open(html_path) as f:
            body = "\n".join(t.to_html(index=False, escape=False, border=0) for t in shown("html"))
            f.write(table_page(caption.split(".")[0], body, caption))
    first, *rest = shown("tex")
    body = first.to_latex(index=False, escape=False, column_format="l" + "r" * (first.shape[1] - 1))
    body = body.replace(r"\begin{tabular}", r"\centering" + "\n" + r"\begin{tabular}", 1)
    with atomic_open(tex) as f:
        f.write("\\begin{table}[t]\n" + body + f"\\caption{{{latex_escape(caption)}}}\n\\end{{table}}\n")
        for part in rest:  # needs \usepackage{longtable}
            f.write("\n" + part.to_latex(index=False, escape=False, longtable=True,
                                          column_format="l" + "r" * (part.shape[1] - 1)))


def significance(hypotheses: dict[str, dict[str, list[str]]], references: dict[str, list[str]],
                 systems: list[str], samples: int) -> dict[tuple[str, str], Interval]:
    """The difference of each system from Multilingual per pair and on average (AVERAGE), from one
    set of resamples; nothing when Multilingual or ``samples`` is missing."""
    if samples <= 0 or BASELINE not in hypotheses:
        return {}
    resampled = Resampled(references, samples)
    for system in dict.fromkeys([BASELINE, *systems]):
        resampled.add(system, hypotheses[system])
    out = {}
    for system in systems:
        if system == BASELINE:
            continue
        for pair in references:
            out[(system, pair)] = resampled.difference(system, BASELINE, [pair])
        out[(system, AVERAGE)] = resampled.difference(system, BASELINE)
    return out


def make_tables(layout: dict[str, list[list[str]]], pairs: list[str], split: str, samples: int, scores: list[str],
                hypotheses: list[str], hypothesis_systems: list[str], references: list[str], cards: list[str],
                card_systems: list[str], csv: list[str], md: list[str], tex: list[str], html: list[str]) -> None:
    """Entry point of the tables rule. ``layout``: table name -> [system, label] rows; the outputs
    ``csv``, ``md``, ``tex`` and ``html`` follow its tables. ``hypotheses`` (first seed) run over
    ``hypothesis_systems`` with ``pairs`` inner; ``references`` follow ``pairs``; each model card
    counts towards the system of ``card_systems`` at its position (Individual has one per pair)."""
    tables = {name: [Row(system, label) for system, label in rows] for name, rows in layout.items()}
    frame = read_scores(scores)
    frame = frame[frame["split"] == split]
    systems = list(dict.fromkeys(r.system for rows in tables.values() for r in rows))
    parameters: dict[str, int] = {}
    for system, card in zip(card_systems, cards, strict=True):
        with open(card, encoding="utf-8") as f:
            parameters[system] = parameters.get(system, 0) + json.load(f)["parameters"]
    refs = dict(zip(pairs, (read_lines(r) for r in references), strict=True))
    if len(hypotheses) != len(hypothesis_systems) * len(pairs):
        raise ValueError(f"{len(hypotheses)} hypothesis files for {len(hypothesis_systems)} systems x {len(pairs)} pairs")
    files = iter(hypotheses)
    hyps = {s: {p: next(files) for p in pairs} for s in hypothesis_systems}
    needed = (set(systems) | {BASELINE}) if samples else set()
    texts = {s: {p: read_lines(path) for p, path in hyps[s].items()} for s in needed if s in hyps}
    differences = significance(texts, refs, systems, samples)
    signature = frame["bleu_signature"].iloc[0]
    n_seeds = int(frame["seed"].nunique())
    for (name, rows), csv_path, md_path, tex_path, html_path in zip(tables.items(), csv, md, tex, html, strict=True):
        table = build_table(frame, rows, pairs, parameters, differences)
        caption = f"{name} ({split}). " + footer(signature, n_seeds, samples if differences else 0)
        write_table(table, pairs, caption, csv_path, md_path, tex_path, html_path)
        log.info("table %s: %d rows", name, len(table))
