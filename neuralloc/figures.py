"""Entry points of the figure rules: read the DAG's artifacts, compute with ``analysis``, draw with
``plots``, write ``{stem}.png``, ``{stem}.pdf``, the numbers as ``{stem}.csv`` and the report's
page ``{stem}.html`` (the figure with its caption) under ``results/{experiment}/figures/``.
``pairs`` is always the experiment's, so that a pair has one colour in every figure."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from . import analysis, plots
from .allocate import read_importance
from .fileio import atomic_open
from .sites import KINDS, site_kind

log = logging.getLogger(__name__)


def write_csv(df: pd.DataFrame, path: str, **kwargs) -> None:
    """The numbers beside each picture, so a figure can be redrawn or quoted exactly."""
    with atomic_open(path) as f:
        df.to_csv(f, float_format="%.6g", **kwargs)


def _save(fig, png: str, pdf: str, csv: str, html: str | None, caption: str, title: str) -> None:
    plots.save_figure(fig, png, pdf, html, caption, title, Path(csv).name)


def importance_figure(importance: list[str], pairs: list[str], shown: list[str], sites: list[str], png: str, pdf: str,
                      csv: str, html: str | None = None, caption: str = "") -> None:
    """Fig. 2: each neuron's importance at ``sites`` (``encoder.layers.-1.ffn.fc1`` = last layer)
    for the ``shown`` pairs; ``importance`` holds one file per shown pair."""
    vectors, _ = read_importance(importance, shown)
    names = list(next(iter(vectors.values())))
    resolved = [analysis.resolve_site(s, names) for s in sites]
    write_csv(plots.importance_table(vectors, resolved), csv, index=False)
    _save(plots.plot_importance(vectors, resolved, plots.pair_colours(pairs)), png, pdf, csv, html, caption,
          "Importance of each neuron (Figure 2)")


def correlation_figure(importance: list[str], pairs: list[str], png: str, pdf: str, csv: str, html: str | None = None,
                       caption: str = "") -> None:
    """Spearman correlation of the pairs' importance vectors, per module kind present."""
    vectors, _ = read_importance(importance, pairs)
    names = list(next(iter(vectors.values())))
    kinds = [k for k in KINDS if any(site_kind(s) == k for s in names)]
    matrices = {k: analysis.importance_correlation(vectors, k) for k in kinds}
    write_csv(pd.concat(matrices, names=["kind", "pair"]), csv)
    _save(plots.plot_correlation(matrices, plots.pair_colours(pairs)), png, pdf, csv, html, caption,
          "Correlation of the pairs' importance")


def allocation_figures(counts_csv: str, pairs: list[str], lscore_png: str, lscore_pdf: str, lscore_csv: str,
                       mscore_png: str, mscore_pdf: str, mscore_csv: str, lscore_html: str | None = None,
                       mscore_html: str | None = None, captions: dict[str, str] | None = None) -> None:
    """Fig. 3: LScore per layer and pair, MScore per layer and module kind (and their CSVs)."""
    counts, captions = analysis.read_counts(counts_csv), captions or {}
    colour = plots.pair_colours(pairs)
    ls, ms = analysis.lscore(counts), analysis.mscore(counts)
    write_csv(ls, lscore_csv, index=False)
    _save(plots.plot_lscore(ls, colour), lscore_png, lscore_pdf, lscore_csv, lscore_html, captions.get("lscore", ""),
          "LScore (Figure 3 a, b)")
    write_csv(ms, mscore_csv, index=False)
    _save(plots.plot_mscore(ms), mscore_png, mscore_pdf, mscore_csv, mscore_html, captions.get("mscore", ""),
          "MScore (Figure 3 c, d)")


def k_sweep_figure(score_files: list[str], points: list[list], reference: str, png: str, pdf: str, csv: str,
                   html: str | None = None, caption: str = "") -> None:
    """Fig. 4: ``points`` are [importance, k, system]; average ΔBLEU over ``reference`` per point."""
    scores = analysis.read_score_files(score_files)
    delta = analysis.delta_bleu(scores, [p[2] for p in points], reference)
    ave = delta.groupby("system")["delta"].mean()
    df = pd.DataFrame([{"importance": imp, "k": float(k), "delta": float(ave[s])} for imp, k, s in points])
    write_csv(df, csv, index=False)
    _save(plots.plot_k_sweep(df), png, pdf, csv, html, caption, "The k sweep (Figure 4)")


def bars_figure(score_files: list[str], runs: list[list], reference: str, group: str, ylabel: str, pairs: list[str],
                png: str, pdf: str, csv: str, html: str | None = None, caption: str = "", title: str = "") -> None:
    """Fig. 5 and 6: ``runs`` are [label, system]; ΔBLEU of each over ``reference`` per pair. Runs
    named after a pair (an erasure of its specific neurons) take the pair's colour."""
    scores = analysis.read_score_files(score_files)
    delta = analysis.delta_bleu(scores, [r[1] for r in runs], reference)
    labels = {system: name for name, system in runs}
    delta[group] = delta["system"].map(labels)
    write_csv(delta[[group, "pair", "delta"]], csv, index=False)
    names = [name for name, _ in runs]
    colour = (plots.erasure_colours(names, pairs) if any(n.split()[0] in pairs for n in names)
              else plots.series_colours(names))
    _save(plots.plot_grouped_bars(delta, group, ylabel, colour), png, pdf, csv, html, caption, title)


def training_figures(train_logs: list[str], models: list[str], pairs: list[str], label_smoothing: float,
                     pngs: list[str], pdfs: list[str], csvs: list[str], htmls: list[str] | None = None,
                     caption: str = "") -> None:
    """One figure per model: training loss, dev loss and BLEU over updates, and the log's rows it
    draws as CSV (lists follow ``models``)."""
    colour = plots.pair_colours(pairs)
    htmls = htmls or [None] * len(models)
    for log_csv, model, png, pdf, csv, html in zip(train_logs, models, pngs, pdfs, csvs, htmls, strict=True):
        train, valid = analysis.read_training_log(log_csv)
        train_label, dev_label = plots.training_labels(label_smoothing)
        rows = pd.concat([train.assign(kind="train", loss_is=train_label), valid.assign(kind="valid", loss_is=dev_label)],
                         ignore_index=True)[["kind", "update", "pair", "loss", "bleu", "loss_is"]]
        write_csv(rows, csv, index=False)
        _save(plots.plot_training(train, valid, model, colour, label_smoothing), png, pdf, csv, html, caption,
              f"Training curves of {model}")
