"""The paper's figures with matplotlib, sized for a paper column (3.3 in wide per panel), written as
PNG (viewing) and PDF (papers), with an HTML page (the figure and its caption) for the report.
Each ``plot_*`` takes the numbers from ``analysis`` and returns the Figure, so tests can read back
what was drawn.

Colours: a language pair has one colour in every figure of an experiment (``pair_colours``, from
its place in the config's ``pairs``); other series (module kinds, importance measures, allocation
variants) take colours from another palette, and the two losses of the training curves black and
grey, so no colour ever means two things. A series of fewer than three points is drawn as
unjoined points, with a note: two settings of a demo are not a curve.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no screen on clusters and CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .fileio import atomic_open, atomic_path  # noqa: E402
from .pages import figure_page  # noqa: E402

COLUMN_IN = 3.3
FEW_POINTS = 3  # a series with fewer points is drawn as points, not as a line
NEUTRAL = {"train": "black", "dev": "grey", "mean": "0.6", "general": "0.45"}
plt.rcParams.update({"font.size": 8, "axes.titlesize": 8, "legend.fontsize": 7, "figure.dpi": 150})


def save_figure(fig, png: str | Path, pdf: str | Path, html: str | Path | None = None, caption: str = "",
                title: str = "", numbers: str | None = None) -> None:
    """The figure as PNG and PDF, and (``html``) a report page showing the PNG with ``caption``
    under it; each written atomically; the PDF without its creation date, so that a rerun writes
    the same bytes."""
    for path, fmt, metadata in ((png, "png", None), (pdf, "pdf", {"CreationDate": None})):
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, bbox_inches="tight", metadata=metadata)
    plt.close(fig)
    if html:
        with atomic_open(html) as f:
            f.write(figure_page(title or Path(png).stem, png, caption, numbers))


def _panels(n: int, height: float = 2.4, rows: int = 1, **kwargs):
    # constrained layout keeps one panel's y-label clear of its neighbour and makes room for a
    # legend outside the axes
    fig, axes = plt.subplots(rows, n, figsize=(COLUMN_IN * n, height * rows), squeeze=False, layout="constrained",
                             **kwargs)
    return fig, [ax for row in axes for ax in row]


def pair_colours(pairs) -> dict[str, str]:
    """Each pair's colour, the same in every figure: its place in the experiment's ``pairs``
    (tab10 for up to 10 pairs, tab20 beyond)."""
    pairs = list(dict.fromkeys(pairs))
    cmap = plt.get_cmap("tab10" if len(pairs) <= 10 else "tab20")
    return {pair: matplotlib.colors.to_hex(cmap(i % cmap.N)) for i, pair in enumerate(pairs)}


def series_colours(names) -> dict[str, str]:
    """Colours of series that are not pairs (module kinds, importance measures, variants), from a
    palette the pairs never use."""
    cmap = plt.get_cmap("Dark2")
    return {name: matplotlib.colors.to_hex(cmap(i % cmap.N)) for i, name in enumerate(dict.fromkeys(names))}


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


def draw_series(ax, x, y, label: str, colour: str, markersize: float = 3) -> None:
    """A line with markers, or unjoined markers where the series has fewer than FEW_POINTS points."""
    joined = len(x) >= FEW_POINTS
    ax.plot(x, y, marker="o", markersize=markersize, linestyle="-" if joined else "none", label=label, color=colour)


def few_points_note(ax, n: int, one: str, many: str) -> None:
    """Say in the panel's title that its points are a few settings, not a curve (a title never
    covers the data)."""
    if n < FEW_POINTS:
        note = f"only {n} {one if n == 1 else many}: points, not a curve"
        ax.set_title(f"{ax.get_title()}\n{note}" if ax.get_title() else note, fontsize=7)


def importance_order(vectors: dict[str, dict[str, np.ndarray]], site: str) -> np.ndarray:
    """The neurons of ``site`` from the most to the least important on average over the pairs
    (stable for ties): the common x-axis of Figure 2's panels."""
    mean = np.mean([np.asarray(v[site], dtype=float) for v in vectors.values()], axis=0)
    return np.argsort(-mean, kind="stable")


def plot_importance(vectors: dict[str, dict[str, np.ndarray]], sites: list[str], colour: dict[str, str]):
    """Fig. 2: one row of panels per site, one panel per pair. Within a row the neurons are sorted
    by their mean importance over the pairs shown (the grey line, the same in every panel of the
    row), and each panel's dots are one pair's importance of those neurons: pairs that use the same
    neurons scatter alike around the line, a pair that uses others scatters differently."""
    pairs = list(vectors)
    fig, axes = _panels(len(pairs), height=1.9, rows=len(sites), sharey="row")
    for row, site in enumerate(sites):
        order = importance_order(vectors, site)
        mean = np.mean([np.asarray(vectors[p][site], dtype=float) for p in pairs], axis=0)[order]
        for col, pair in enumerate(pairs):
            ax = axes[row * len(pairs) + col]
            x = np.arange(len(order))
            ax.plot(x, np.asarray(vectors[pair][site], dtype=float)[order], linestyle="none", marker=".",
                    markersize=1.5, color=colour[pair], label=pair)
            ax.plot(x, mean, color=NEUTRAL["mean"], linewidth=0.8, label="mean over the pairs shown")
            ax.set_title(f"{pair}: {site}")
            ax.set_xlabel("neuron, by mean importance")
            if col == 0:
                ax.set_ylabel("importance (TE)")
    figure_legend(fig, axes, ncol=len(pairs) + 1, order=pairs)
    for legend in fig.legends:  # the dots are tiny: bigger markers in the legend
        for handle in legend.legend_handles:
            handle.set_markersize(6)
    return fig


def importance_table(vectors: dict[str, dict[str, np.ndarray]], sites: list[str]) -> pd.DataFrame:
    """Figure 2's numbers: per site and neuron, its rank in the common order and each pair's importance."""
    frames = []
    for site in sites:
        order = importance_order(vectors, site)
        frame = pd.DataFrame({"site": site, "rank": np.arange(len(order)), "neuron": order})
        for pair, by_site in vectors.items():
            frame[pair] = np.asarray(by_site[site], dtype=float)[order]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def plot_correlation(matrices: dict[str, pd.DataFrame], colour: dict[str, str]):
    """Beyond the paper: Spearman correlation of pairs' importance vectors, one heat map per module
    kind; the pairs' names in their colours."""
    fig, axes = _panels(len(matrices), height=COLUMN_IN)
    for n, (ax, (kind, m)) in enumerate(zip(axes, matrices.items())):
        im = ax.imshow(m.to_numpy(), vmin=-1, vmax=1, cmap="RdBu_r")
        ax.set_xticks(range(len(m)), m.columns, rotation=90)
        ax.set_yticks(range(len(m)), m.index if n == 0 else [])  # the same pairs on every panel
        for label in ax.get_xticklabels() + ax.get_yticklabels():
            label.set_color(colour.get(label.get_text(), "black"))
        if len(m) <= 12:
            for i in range(len(m)):
                for j in range(len(m)):
                    ax.text(j, i, f"{m.iat[i, j]:.2f}", ha="center", va="center", fontsize=6,
                            color="white" if abs(m.iat[i, j]) > 0.6 else "black")
        ax.set_title(kind)
    fig.colorbar(im, ax=axes, shrink=0.8, label="Spearman ρ")
    return fig


def _by_side(df: pd.DataFrame, group: str, value: str, colour: dict[str, str]):
    """Encoder and decoder panels, one series per ``group`` value over the layers, each in its
    colour in both panels."""
    fig, axes = _panels(2)
    for ax, side in zip(axes, ("encoder", "decoder")):
        sub = df[df["side"] == side]
        for name, series in sub.groupby(group, sort=False):
            series = series.sort_values("layer")
            draw_series(ax, series["layer"] + 1, series[value], name, colour[name])
        layers = sorted(sub["layer"].unique() + 1)
        ax.set(title=side.capitalize(), xlabel="layer", ylabel={"lscore": "LScore", "mscore": "MScore"}[value])
        ax.set_xticks(layers)
        few_points_note(ax, len(layers), "layer", "layers")
    figure_legend(fig, axes, order=list(colour))
    return fig


def plot_lscore(df: pd.DataFrame, colour: dict[str, str]):
    """Fig. 3 (a, b): LScore per layer, one series per pair, encoder and decoder."""
    return _by_side(df, "pair", "lscore", colour)


def plot_mscore(df: pd.DataFrame):
    """Fig. 3 (c, d): MScore per layer, one series per module kind, encoder and decoder."""
    kinds = [k for k in ("self_attn", "cross_attn", "ffn") if k in set(df["kind"])]
    return _by_side(df, "kind", "mscore", series_colours(kinds + sorted(set(df["kind"]) - set(kinds))))


def plot_k_sweep(df: pd.DataFrame):
    """Fig. 4: average ΔBLEU over Multilingual against k, one series per importance measure."""
    fig, (ax,) = _panels(1)
    colour = series_colours(i.upper() for i in df["importance"])
    for imp, sub in df.groupby("importance", sort=False):
        sub = sub.sort_values("k")
        draw_series(ax, sub["k"], sub["delta"], imp.upper(), colour[imp.upper()])
    ax.axhline(0, color="grey", linewidth=0.5)
    ax.set(xlabel="k", ylabel="average ΔBLEU over Multilingual")
    few_points_note(ax, df["k"].nunique(), "value of k", "values of k")
    figure_legend(fig, [ax])
    return fig


def plot_grouped_bars(df: pd.DataFrame, group: str, ylabel: str, colour: dict[str, str]):
    """Grouped bars: one group per pair, one bar per ``group`` value in its ``colour`` (Fig. 5
    erasure runs, Fig. 6 variants); ``df`` has columns group, pair, delta."""
    groups = list(dict.fromkeys(df[group]))
    pairs = list(dict.fromkeys(df["pair"]))
    width = 0.8 / len(groups)
    fig, (ax,) = _panels(1, height=2.6)
    fig.set_figwidth(max(COLUMN_IN, 0.5 * len(pairs) * len(groups) ** 0.5 + 1))
    for i, g in enumerate(groups):
        sub = df[df[group] == g].set_index("pair").reindex(pairs)
        ax.bar(np.arange(len(pairs)) + (i - (len(groups) - 1) / 2) * width, sub["delta"], width, label=g, color=colour[g])
    ax.axhline(0, color="grey", linewidth=0.5)
    ax.set_xticks(range(len(pairs)), pairs, rotation=45)
    ax.set(ylabel=ylabel)
    figure_legend(fig, [ax], ncol=min(len(groups), 3))
    return fig


def erasure_colours(runs: list[str], pairs) -> dict[str, str]:
    """Fig. 5's bars: a pair's specific neurons erased in that pair's colour, general ones in grey."""
    by_pair = pair_colours(pairs)
    return {run: by_pair.get(run.split()[0], NEUTRAL["general"]) for run in runs}


def training_labels(label_smoothing: float) -> tuple[str, str]:
    """The two losses of the training curves, named for what they are."""
    train = f"train: cross-entropy with label smoothing {label_smoothing:g}" if label_smoothing else "train: cross-entropy"
    return train, "dev: cross-entropy without smoothing, mean over pairs"


def plot_training(train: pd.DataFrame, valid: pd.DataFrame, title: str, colour: dict[str, str],
                  label_smoothing: float = 0.0):
    """Training loss and dev loss against updates (each named for what it is: label smoothing adds
    to the training loss, so the two are not on one footing), and dev BLEU per pair in the pairs'
    colours; ``title`` names the model."""
    fig, axes = _panels(2)
    fig.suptitle(title)
    bleu = valid.dropna(subset=["bleu"])
    train_label, dev_label = training_labels(label_smoothing)
    axes[0].plot(train["update"], train["loss"], label=train_label, color=NEUTRAL["train"],
                 **({"marker": "o", "markersize": 3} if len(train) <= 30 else {}))
    if not valid.empty:
        dev = valid.groupby("update")["loss"].mean()
        draw_series(axes[0], dev.index, dev.to_numpy(), dev_label, NEUTRAL["dev"])
    axes[0].set(title="loss", xlabel="update", ylabel="nats per target token")
    for pair, sub in bleu.groupby("pair", sort=False):
        draw_series(axes[1], sub["update"], sub["bleu"], f"dev BLEU {pair}", colour[pair])
    axes[1].set(title="dev BLEU (greedy)", xlabel="update", ylabel="BLEU")
    if bleu.empty:
        axes[1].text(0.5, 0.5, "no dev BLEU logged", transform=axes[1].transAxes, ha="center", va="center")
    figure_legend(fig, axes, ncol=2, order=[train_label, dev_label])
    return fig
