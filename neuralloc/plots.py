"""The paper's figures with matplotlib, sized for a paper column (3.3 in wide per panel), written as
PNG (viewing) and PDF (papers). Each ``plot_*`` takes the numbers from ``analysis`` and returns the
Figure, so tests can read back what was drawn."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no screen on clusters and CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .fileio import atomic_path  # noqa: E402

COLUMN_IN = 3.3
plt.rcParams.update({"font.size": 8, "axes.titlesize": 8, "legend.fontsize": 7, "figure.dpi": 150})


def save_figure(fig, png: str | Path, pdf: str | Path) -> None:
    """The figure as PNG and PDF, each written atomically."""
    for path, fmt in ((png, "png"), (pdf, "pdf")):
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, bbox_inches="tight")
    plt.close(fig)


def _panels(n: int, height: float = 2.4):
    fig, axes = plt.subplots(1, n, figsize=(COLUMN_IN * n, height), squeeze=False)
    return fig, list(axes[0])


def plot_importance(vectors: dict[str, dict[str, np.ndarray]], sites: list[str]):
    """Fig. 2: the importance of every neuron of each site, one line per pair."""
    fig, axes = _panels(len(sites))
    for ax, site in zip(axes, sites):
        for pair, by_site in vectors.items():
            ax.plot(np.arange(len(by_site[site])), by_site[site], label=pair, linewidth=0.6)
        ax.set(title=site, xlabel="neuron", ylabel="importance")
    axes[0].legend()
    return fig


def plot_correlation(matrices: dict[str, pd.DataFrame]):
    """Beyond the paper: Spearman correlation of pairs' importance vectors, one heat map per module kind."""
    fig, axes = _panels(len(matrices), height=COLUMN_IN)
    for n, (ax, (kind, m)) in enumerate(zip(axes, matrices.items())):
        im = ax.imshow(m.to_numpy(), vmin=-1, vmax=1, cmap="RdBu_r")
        ax.set_xticks(range(len(m)), m.columns, rotation=90)
        ax.set_yticks(range(len(m)), m.index if n == 0 else [])  # the same pairs on every panel
        if len(m) <= 12:
            for i in range(len(m)):
                for j in range(len(m)):
                    ax.text(j, i, f"{m.iat[i, j]:.2f}", ha="center", va="center", fontsize=6,
                            color="white" if abs(m.iat[i, j]) > 0.6 else "black")
        ax.set_title(kind)
    fig.colorbar(im, ax=axes, shrink=0.8, label="Spearman ρ")
    return fig


def _layer_lines(ax, df: pd.DataFrame, group: str, value: str, title: str):
    for name, sub in df.groupby(group, sort=False):
        sub = sub.sort_values("layer")
        ax.plot(sub["layer"] + 1, sub[value], marker="o", markersize=3, label=name)
    ax.set(title=title, xlabel="layer", ylabel={"lscore": "LScore", "mscore": "MScore"}[value])
    ax.set_xticks(sorted(df["layer"].unique() + 1))


def plot_lscore(df: pd.DataFrame):
    """Fig. 3 (a, b): LScore per layer, one line per pair, encoder and decoder."""
    fig, axes = _panels(2)
    for ax, side in zip(axes, ("encoder", "decoder")):
        _layer_lines(ax, df[df["side"] == side], "pair", "lscore", side.capitalize())
    axes[1].legend(ncol=2)
    return fig


def plot_mscore(df: pd.DataFrame):
    """Fig. 3 (c, d): MScore per layer, one line per module kind, encoder and decoder."""
    fig, axes = _panels(2)
    for ax, side in zip(axes, ("encoder", "decoder")):
        _layer_lines(ax, df[df["side"] == side], "kind", "mscore", side.capitalize())
    axes[1].legend()
    return fig


def plot_k_sweep(df: pd.DataFrame):
    """Fig. 4: average ΔBLEU over Multilingual against k, one line per importance measure."""
    fig, (ax,) = _panels(1)
    for imp, sub in df.groupby("importance", sort=False):
        sub = sub.sort_values("k")
        ax.plot(sub["k"], sub["delta"], marker="o", markersize=3, label=imp.upper())
    ax.axhline(0, color="grey", linewidth=0.5)
    ax.set(xlabel="k", ylabel="average ΔBLEU over Multilingual")
    ax.legend()
    return fig


def plot_grouped_bars(df: pd.DataFrame, group: str, ylabel: str):
    """Grouped bars: one group per pair, one bar per ``group`` value (Fig. 5 erasure runs, Fig. 6
    variants); ``df`` has columns group, pair, delta."""
    groups = list(dict.fromkeys(df[group]))
    pairs = list(dict.fromkeys(df["pair"]))
    width = 0.8 / len(groups)
    fig, (ax,) = _panels(1, height=2.6)
    fig.set_figwidth(max(COLUMN_IN, 0.5 * len(pairs) * len(groups) ** 0.5 + 1))
    for i, g in enumerate(groups):
        sub = df[df[group] == g].set_index("pair").reindex(pairs)
        ax.bar(np.arange(len(pairs)) + (i - (len(groups) - 1) / 2) * width, sub["delta"], width, label=g)
    ax.axhline(0, color="grey", linewidth=0.5)
    ax.set_xticks(range(len(pairs)), pairs, rotation=45)
    ax.set(ylabel=ylabel)
    ax.legend()
    return fig


def plot_training(train: pd.DataFrame, valid: pd.DataFrame, title: str):
    """Training loss and dev loss against updates, and dev BLEU per pair."""
    fig, axes = _panels(2)
    axes[0].plot(train["update"], train["loss"], label="train (label-smoothed)")
    if not valid.empty:
        dev = valid.groupby("update")["loss"].mean()
        axes[0].plot(dev.index, dev.to_numpy(), marker="o", markersize=3, label="dev (mean over pairs)")
    axes[0].set(title=title, xlabel="update", ylabel="loss per token")
    axes[0].legend()
    bleu = valid.dropna(subset=["bleu"])
    for pair, sub in bleu.groupby("pair", sort=False):
        axes[1].plot(sub["update"], sub["bleu"], marker="o", markersize=3, label=pair)
    axes[1].set(title=f"{title}: dev BLEU (greedy)", xlabel="update", ylabel="BLEU")
    if not bleu.empty:
        axes[1].legend(ncol=2)
    return fig
