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


def importance_figure(importance_dir: str, pairs: list[str], sites: list[str], stem: str) -> None:
    """Fig. 2: each neuron's importance at ``sites`` (``encoder.layers.-1.ffn.fc1`` = last layer)."""
    vectors, _ = read_importance(importance_dir, pairs)
    names = list(next(iter(vectors.values())))
    resolved = [analysis.resolve_site(s, names) for s in sites]
    plots.save_figure(plots.plot_importance(vectors, resolved), stem)


def correlation_figure(importance_dir: str, pairs: list[str], stem: str) -> None:
    """Spearman correlation of the pairs' importance vectors, per module kind present."""
    vectors, _ = read_importance(importance_dir, pairs)
    names = list(next(iter(vectors.values())))
    kinds = [k for k in KINDS if any(site_kind(s) == k for s in names)]
    matrices = {k: analysis.importance_correlation(vectors, k) for k in kinds}
    plots.save_figure(plots.plot_correlation(matrices), stem)
    write_csv(pd.concat(matrices, names=["kind", "pair"]), f"{stem}.csv")


def allocation_figures(counts_csv: str, lscore_stem: str, mscore_stem: str) -> None:
    """Fig. 3: LScore per layer and pair, MScore per layer and module kind (and their CSVs)."""
    counts = analysis.read_counts(counts_csv)
    for stem, df, plot in ((lscore_stem, analysis.lscore(counts), plots.plot_lscore),
                           (mscore_stem, analysis.mscore(counts), plots.plot_mscore)):
        write_csv(df, f"{stem}.csv", index=False)
        plots.save_figure(plot(df), stem)


def k_sweep_figure(score_files: list[str], points: list[list], reference: str, stem: str) -> None:
    """Fig. 4: ``points`` are [importance, k, system]; average ΔBLEU over ``reference`` per point."""
    scores = analysis.read_score_files(score_files)
    delta = analysis.delta_bleu(scores, [p[2] for p in points], reference)
    ave = delta.groupby("system")["delta"].mean()
    df = pd.DataFrame([{"importance": imp, "k": float(k), "delta": float(ave[s])} for imp, k, s in points])
    write_csv(df, f"{stem}.csv", index=False)
    plots.save_figure(plots.plot_k_sweep(df), stem)


def bars_figure(score_files: list[str], runs: list[list], reference: str, group: str, ylabel: str, stem: str) -> None:
    """Fig. 5 and 6: ``runs`` are [label, system]; ΔBLEU of each over ``reference`` per pair."""
    scores = analysis.read_score_files(score_files)
    delta = analysis.delta_bleu(scores, [r[1] for r in runs], reference)
    labels = {system: name for name, system in runs}
    delta[group] = delta["system"].map(labels)
    write_csv(delta[[group, "pair", "delta"]], f"{stem}.csv", index=False)
    plots.save_figure(plots.plot_grouped_bars(delta, group, ylabel), stem)


def training_figure(log_csv: str, title: str, stem: str) -> None:
    train, valid = analysis.read_training_log(log_csv)
    plots.save_figure(plots.plot_training(train, valid, title), stem)
