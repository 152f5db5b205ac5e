"""Entry points of the figure rules: read the DAG's artifacts, compute with ``analysis``, draw with
``plots``, write ``{stem}.png`` and ``{stem}.pdf`` under ``results/{experiment}/figures/``."""

from __future__ import annotations

import logging

import pandas as pd

from . import analysis, plots
from .allocate import read_importance
from .sites import KINDS, site_kind
from .fileio import atomic_open

log = logging.getLogger(__name__)


def write_csv(df: pd.DataFrame, path: str, **kwargs) -> None:
    """The numbers beside each picture, so a figure can be redrawn or quoted exactly."""
    with atomic_open(path) as f:
        df.to_csv(f, float_format="%.4f", **kwargs)


def importance_figure(importance: list[str], pairs: list[str], sites: list[str], png: str, pdf: str) -> None:
    """Fig. 2: each neuron's importance at ``sites`` (``encoder.layers.-1.ffn.fc1`` = last layer);
    ``importance`` holds one file per pair."""
    vectors, _ = read_importance(importance, pairs)
    names = list(next(iter(vectors.values())))
    resolved = [analysis.resolve_site(s, names) for s in sites]
    plots.save_figure(plots.plot_importance(vectors, resolved), png, pdf)


def correlation_figure(importance: list[str], pairs: list[str], png: str, pdf: str, csv: str) -> None:
    """Spearman correlation of the pairs' importance vectors, per module kind present."""
    vectors, _ = read_importance(importance, pairs)
    names = list(next(iter(vectors.values())))
    kinds = [k for k in KINDS if any(site_kind(s) == k for s in names)]
    matrices = {k: analysis.importance_correlation(vectors, k) for k in kinds}
    plots.save_figure(plots.plot_correlation(matrices), png, pdf)
    write_csv(pd.concat(matrices, names=["kind", "pair"]), csv)


def allocation_figures(counts_csv: str, lscore_png: str, lscore_pdf: str, lscore_csv: str, mscore_png: str,
                       mscore_pdf: str, mscore_csv: str) -> None:
    """Fig. 3: LScore per layer and pair, MScore per layer and module kind (and their CSVs)."""
    counts = analysis.read_counts(counts_csv)
    for df, plot, png, pdf, csv in ((analysis.lscore(counts), plots.plot_lscore, lscore_png, lscore_pdf, lscore_csv),
                                    (analysis.mscore(counts), plots.plot_mscore, mscore_png, mscore_pdf, mscore_csv)):
        write_csv(df, csv, index=False)
        plots.save_figure(plot(df), png, pdf)


def k_sweep_figure(score_files: list[str], points: list[list], reference: str, png: str, pdf: str, csv: str) -> None:
    """Fig. 4: ``points`` are [importance, k, system]; average ΔBLEU over ``reference`` per point."""
    scores = analysis.read_score_files(score_files)
    delta = analysis.delta_bleu(scores, [p[2] for p in points], reference)
    ave = delta.groupby("system")["delta"].mean()
    df = pd.DataFrame([{"importance": imp, "k": float(k), "delta": float(ave[s])} for imp, k, s in points])
    write_csv(df, csv, index=False)
    plots.save_figure(plots.plot_k_sweep(df), png, pdf)


def bars_figure(score_files: list[str], runs: list[list], reference: str, group: str, ylabel: str, png: str, pdf: str,
                csv: str) -> None:
    """Fig. 5 and 6: ``runs`` are [label, system]; ΔBLEU of each over ``reference`` per pair."""
    scores = analysis.read_score_files(score_files)
    delta = analysis.delta_bleu(scores, [r[1] for r in runs], reference)
    labels = {system: name for name, system in runs}
    delta[group] = delta["system"].map(labels)
    write_csv(delta[[group, "pair", "delta"]], csv, index=False)
    plots.save_figure(plots.plot_grouped_bars(delta, group, ylabel), png, pdf)


def training_figures(train_logs: list[str], models: list[str], pngs: list[str], pdfs: list[str]) -> None:
    """One figure per model: training loss, dev loss and BLEU over updates (lists follow ``models``)."""
    for log_csv, title, png, pdf in zip(train_logs, models, pngs, pdfs, strict=True):
        train, valid = analysis.read_training_log(log_csv)
        plots.save_figure(plots.plot_training(train, valid, title), png, pdf)
