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
    """The figure as PNG and PDF, each written atomically; the PDF without its creation date, so
    that a rerun writes the same bytes."""
    for path, fmt, metadata in ((png, "png", None), (pdf, "pdf", {"CreationDate": None})):
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, bbox_inches="tight", metadata=metadata)
    plt.close(fig)


def _panels(n: int, height: float = 2.4):
    # constrained layout keeps one panel's y-label clear of its neighbour and makes room for a
    # legend outside the axes
    fig, axes = plt.subplots(1, n, figsize=(COLUMN_IN * n, height), squeeze=False, layout="constrained")
    return fig, list(axes[0])


def colours(names) -> dict[str, str]:
    """One colour per name, the same in every panel of a figure (matplotlib's cycle, in order)."""
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    return {name: cycle[i % len(cycle)] for i, name in enumerate(dict.fromkeys(names))}


def figure_legend(fig, axes, ncol: int | None = None, order=()) -> None:
    """One legend for the whole figure, below the panels (never over the data, never cut off),
    with every series of every panel once (those in ``order`` first, in that order)."""
    found = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            found.setdefault(label, handle)
    entries = {label: found[label] for label in order if label in found} | found
    if entries:
        fig.legend(entries.values(), entries.keys(), loc="outside lower center", frameon=False,
                   ncol=ncol or min(len(entries), 4))


def _markers(n_points: int) -> dict:
    """Markers where a series has few points, so that a single point is still seen."""
    return {"marker": "o", "markersize": 3} if n_points <= 30 else {}


def plot_importance(vectors: dict[str, dict[str, np.ndarray]], sites: list[str]):
    """Fig. 2: the importance of every neuron of each site, one line per pair."""
    fig, axes = _panels(len(sites))
    colour = colours(vectors)
    for ax, site in zip(axes, sites):
        for pair, by_site in vectors.items():
            ax.plot(np.arange(len(by_site[site])), by_site[site], label=pair, linewidth=0.6, color=colour[pair])
        ax.set(title=site, xlabel="neuron", ylabel="importance")
    figure_legend(fig, axes)
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


def _layer_lines(ax, df: pd.DataFrame, group: str, value: str, title: str, colour: dict[str, str]):
    for name, sub in df.groupby(group, sort=False):
        sub = sub.sort_values("layer")
        ax.plot(sub["layer"] + 1, sub[value], marker="o", markersize=3, label=name, color=colour[name])
    ax.set(title=title, xlabel="layer", ylabel={"lscore": "LScore", "mscore": "MScore"}[value])
    ax.set_xticks(sorted(df["layer"].unique() + 1))


def _by_side(df: pd.DataFrame, group: str, value: str, order):
    """Encoder and decoder panels, each ``group`` value in one colour in both."""
    fig, axes = _panels(2)
    colour = colours(order)
    for ax, side in zip(axes, ("encoder", "decoder")):
        _layer_lines(ax, df[df["side"] == side], group, value, side.capitalize(), colour)
    figure_legend(fig, axes, order=list(colour))
    return fig


def plot_lscore(df: pd.DataFrame):
    """Fig. 3 (a, b): LScore per layer, one line per pair, encoder and decoder."""
    return _by_side(df, "pair", "lscore", df["pair"])


def plot_mscore(df: pd.DataFrame):
    """Fig. 3 (c, d): MScore per layer, one line per module kind, encoder and decoder."""
    kinds = [k for k in ("self_attn", "cross_attn", "ffn") if k in set(df["kind"])]
    return _by_side(df, "kind", "mscore", kinds + sorted(set(df["kind"]) - set(kinds)))


def plot_k_sweep(df: pd.DataFrame):
    """Fig. 4: average ΔBLEU over Multilingual against k, one line per importance measure."""
    fig, (ax,) = _panels(1)
    for imp, sub in df.groupby("importance", sort=False):
        sub = sub.sort_values("k")
        ax.plot(sub["k"], sub["delta"], marker="o", markersize=3, label=imp.upper())
    ax.axhline(0, color="grey", linewidth=0.5)
    ax.set(xlabel="k", ylabel="average ΔBLEU over Multilingual")
    figure_legend(fig, [ax])
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
    figure_legend(fig, [ax], ncol=min(len(groups), 3))
    return fig


def plot_training(train: pd.DataFrame, valid: pd.DataFrame, title: str):
    """Training loss and dev loss against updates, and dev BLEU per pair; ``title`` names the model."""
    fig, axes = _panels(2)
    fig.suptitle(title)
    bleu = valid.dropna(subset=["bleu"])
    train_label, dev_label = "train loss (label-smoothed)", "dev loss (mean over pairs)"
    colour = colours([train_label, dev_label, *(f"dev BLEU {p}" for p in bleu["pair"])])  # one map: no colour twice
    axes[0].plot(train["update"], train["loss"], label=train_label, color=colour[train_label], **_markers(len(train)))
    if not valid.empty:
        dev = valid.groupby("update")["loss"].mean()
        axes[0].plot(dev.index, dev.to_numpy(), marker="o", markersize=3, label=dev_label, color=colour[dev_label])
    axes[0].set(title="loss", xlabel="update", ylabel="loss per token")
    for pair, sub in bleu.groupby("pair", sort=False):
        axes[1].plot(sub["update"], sub["bleu"], marker="o", markersize=3, label=f"dev BLEU {pair}",
                     color=colour[f"dev BLEU {pair}"])
    axes[1].set(title="dev BLEU (greedy)", xlabel="update", ylabel="BLEU")
    if bleu.empty:
        axes[1].text(0.5, 0.5, "no dev BLEU logged", transform=axes[1].transAxes, ha="center", va="center")
    figure_legend(fig, axes, ncol=3, order=list(colour))
    return fig
