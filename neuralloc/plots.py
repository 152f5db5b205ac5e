"""The paper's figures with matplotlib, sized for a paper column (3.3 in wide per panel), written as
PNG (viewing) and PDF (papers), with an HTML page (the figure and its caption) for the report.
Each ``plot_*`` takes the numbers from ``analysis`` and returns the Figure, so tests can read back
what was drawn.

Colours: a language pair has one colour in every figure of an experiment (``pair_colours``, from
its place in the config's ``pairs``); other series (module kinds, importance measures, allocation
variants) take colours from another palette, and the two losses of the training curves black and
grey, so no colour ever means two things. A series of fewer than three points is drawn as
unjoined points, with a note: two settings of a demo are not a curve.

Many pairs: beyond ``WIDE_MAX_PAIRS`` a series, a bar or a panel per pair no longer reads, so each
figure that draws pairs draws them as rows (or columns) of a heat map instead, grouped by source
language (``group_pairs``, thin white lines between the groups), with tick labels sized to their
cell (thinned below a legible size) and no pair colours; sizes grow with the pairs up to
``MAX_PX`` pixels a side.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no screen on clusters and CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .fileio import atomic_open, atomic_path  # noqa: E402
from .languages import WIDE_MAX_PAIRS, group_pairs  # noqa: E402
from .pages import figure_page  # noqa: E402

COLUMN_IN = 3.3
FEW_POINTS = 3  # a series with fewer points is drawn as points, not as a line
NEUTRAL = {"train": "black", "dev": "grey", "mean": "0.6", "general": "0.45"}
DPI = 150
plt.rcParams.update({"font.size": 8, "axes.titlesize": 8, "legend.fontsize": 7, "figure.dpi": DPI, "savefig.dpi": DPI})
MAX_PX = 4000  # the largest figure side, in pixels
LAYOUT_IN = 0.8 * MAX_PX / DPI  # the panels' share of it: tick labels, titles and colour bar take the rest
PANELS_PER_ROW = 6  # small multiples wrap after this many panels
CELL_IN = 0.1  # a heat map cell's side where there is room: fits a 5.8 pt label
MIN_FONT = 4.5  # smaller tick labels are thinned instead


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


def many(pairs) -> bool:
    """Whether ``pairs`` are too many for a series, a bar or a panel each (heat maps instead)."""
    return len(pairs) > WIDE_MAX_PAIRS


def grouped(pairs) -> list[str]:
    """The pairs in the heat maps' order: by source language (``group_pairs``)."""
    return [p for members in group_pairs(pairs).values() for p in members]


def cell_in(n: int, room: float = LAYOUT_IN) -> float:
    """A heat map cell's side for ``n`` cells in ``room`` inches: CELL_IN where they fit."""
    return min(CELL_IN, room / max(n, 1))


def label_room(labels) -> float:
    """Inches that tick labels ``labels`` (across them), an axis label and a title take beside a
    heat map's cells, so that the cells keep the size their labels were sized for."""
    return max(map(len, labels), default=0) * 0.6 * (plt.rcParams["font.size"] - 1) / 72 + 0.6


def label_cells(axis, labels: list[str], cell: float) -> None:
    """Tick labels on a heat map's ``axis`` (ax.xaxis or ax.yaxis), one per cell of ``cell`` inches,
    sized to fit their cell; where that would be below MIN_FONT, every k-th label at MIN_FONT, so
    labels never overprint."""
    size = min(plt.rcParams["font.size"] - 1, 0.8 * 72 * cell)
    step = 1 if size >= MIN_FONT else int(np.ceil(MIN_FONT / size))
    shown = range(0, len(labels), step)
    axis.set_ticks(list(shown), [labels[i] for i in shown], fontsize=max(size, MIN_FONT))
    axis.set_tick_params(length=2, pad=1)


def separate_groups(ax, pairs: list[str], axis: str, colour: str) -> None:
    """Thin lines between the language groups of ``pairs`` (in ``grouped`` order) along ``axis``
    ("x" or "y") of a heat map."""
    sizes = [len(g) for g in group_pairs(pairs).values()]
    for edge in np.cumsum(sizes)[:-1] - 0.5:
        (ax.axhline if axis == "y" else ax.axvline)(edge, color=colour, linewidth=0.8)


def heat_map(ax, values, rows: list[str], cols: list[str], cell: float, cmap: str, vmin: float, vmax: float,
             pair_rows: bool = True, pair_cols: bool = False, row_labels: bool = True, col_cell: float | None = None):
    """``values`` (rows x cols) as cells of ``cell`` inches (``col_cell`` wide where given), rows
    and columns labelled (``row_labels`` False: rows unlabelled, a neighbour panel names them),
    language groups separated along an axis of pairs; returns the image for a colour bar."""
    im = ax.imshow(np.asarray(values, dtype=float), cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto",
                   interpolation="nearest")
    label_cells(ax.yaxis, rows if row_labels else [""] * len(rows), cell)
    label_cells(ax.xaxis, cols, col_cell or cell)
    ax.tick_params(axis="x", labelrotation=90)
    lines = "black" if vmin < 0 < vmax else "white"  # a diverging scale is white at zero
    for flag, names, axis in ((pair_rows, rows, "y"), (pair_cols, cols, "x")):
        if flag:
            separate_groups(ax, names, axis, lines)
    return im


def symmetric(values) -> float:
    """The colour scale's half range for differences: zero in the middle (white)."""
    return float(np.nanmax(np.abs(np.asarray(values, dtype=float)))) or 1.0


def importance_order(vectors: dict[str, dict[str, np.ndarray]], site: str) -> np.ndarray:
    """The neurons of ``site`` from the most to the least important on average over the pairs
    (stable for ties): the common x-axis of Figure 2's panels."""
    mean = np.mean([np.asarray(v[site], dtype=float) for v in vectors.values()], axis=0)
    return np.argsort(-mean, kind="stable")


def plot_importance(vectors: dict[str, dict[str, np.ndarray]], sites: list[str], colour: dict[str, str]):
    """Fig. 2: one row of panels per site, one panel per pair. Within a row the neurons are sorted
    by their mean importance over the pairs shown (the grey line, the same in every panel of the
    row), and each panel's dots are one pair's importance of those neurons: pairs that use the same
    neurons scatter alike around the line, a pair that uses others scatters differently. A site's
    panels wrap after PANELS_PER_ROW; beyond WIDE_MAX_PAIRS, one heat map per site instead
    (``plot_importance_map``)."""
    pairs = list(vectors)
    if many(pairs):
        return plot_importance_map(vectors, sites)
    cols = min(len(pairs), PANELS_PER_ROW)
    per_site = -(-len(pairs) // cols)
    fig, axes = _panels(cols, height=1.9, rows=len(sites) * per_site)
    for extra in [ax for i, ax in enumerate(axes) if i % (per_site * cols) >= len(pairs)]:
        fig.delaxes(extra)
    for row, site in enumerate(sites):
        order = importance_order(vectors, site)
        mean = np.mean([np.asarray(v[site], dtype=float) for v in vectors.values()], axis=0)[order]
        first = axes[row * per_site * cols]
        for n, pair in enumerate(pairs):
            ax, col = axes[row * per_site * cols + n], n % cols
            if ax is not first:
                ax.sharey(first)  # one scale per site
            x = np.arange(len(order))
            ax.plot(x, np.asarray(vectors[pair][site], dtype=float)[order], linestyle="none", marker=".",
                    markersize=1.5, color=colour[pair], label=pair)
            ax.plot(x, mean, color=NEUTRAL["mean"], linewidth=0.8, label="mean over the pairs shown")
            ax.set_title(f"{pair}: {site}")
            ax.set_xlabel("neuron, by mean importance")
            if col == 0:
                ax.set_ylabel("importance (TE)")
            else:
                ax.tick_params(labelleft=False)
    figure_legend(fig, axes, ncol=min(len(pairs) + 1, PANELS_PER_ROW + 1), order=pairs)
    for legend in fig.legends:  # the dots are tiny: bigger markers in the legend
        for handle in legend.legend_handles:
            handle.set_markersize(6)
    return fig


def plot_importance_map(vectors: dict[str, dict[str, np.ndarray]], sites: list[str]):
    """Fig. 2 for many pairs: per site a heat map, a row per pair (grouped by source language), the
    neurons in their common order (most important on average left): pairs that use the same
    neurons share bright columns."""
    pairs = grouped(vectors)
    cell = cell_in(len(pairs))
    fig, axes = _panels(min(len(sites), 2), height=cell * len(pairs) + label_room([]),
                        rows=-(-len(sites) // 2) if len(sites) > 2 else 1)
    fig.set_figwidth(min(len(sites), 2) * 2 * COLUMN_IN)
    for extra in axes[len(sites):]:
        fig.delaxes(extra)
    for n, (ax, site) in enumerate(zip(axes, sites)):
        order = importance_order(vectors, site)
        values = np.array([np.asarray(vectors[p][site], dtype=float)[order] for p in pairs])
        im = heat_map(ax, values, pairs, [], cell, "viridis", float(values.min()), float(values.max()),
                      row_labels=n % 2 == 0)
        ax.set(title=site, xlabel="neuron, by mean importance")
        fig.colorbar(im, ax=ax, shrink=0.6, label="importance (TE)")
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
    kind; the pairs' names in their colours (beyond WIDE_MAX_PAIRS: ``plot_correlation_map``)."""
    if many(next(iter(matrices.values())).index):
        return plot_correlation_map(matrices)
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


def plot_correlation_map(matrices: dict[str, pd.DataFrame]):
    """The correlation heat maps for many pairs: pairs grouped by source language, as many panels
    per row as leave the largest cells, labels sized to the cells, no numbers in them."""
    pairs = grouped(next(iter(matrices.values())).index)
    k = len(matrices)

    def panel_side(cols: int) -> float:
        return min(max(COLUMN_IN, len(pairs) * CELL_IN), LAYOUT_IN / max(cols, -(-k // cols)))

    cols = max(range(1, k + 1), key=lambda c: (panel_side(c), c))  # the largest cells, then the fewest rows
    side = panel_side(cols)
    fig, axes = _panels(cols, height=side + label_room(pairs), rows=-(-k // cols))
    fig.set_figwidth((side + label_room(pairs)) * cols + 1.2)  # and the colour bar
    for extra in axes[k:]:
        fig.delaxes(extra)
    for n, (ax, (kind, m)) in enumerate(zip(axes, matrices.items())):
        im = heat_map(ax, m.loc[pairs, pairs], pairs, pairs, side / len(pairs), "RdBu_r", -1, 1, pair_cols=True,
                      row_labels=n % cols == 0)
        ax.set_title(kind)
    fig.colorbar(im, ax=axes[:k], shrink=0.5, label="Spearman ρ")
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
    """Fig. 3 (a, b): LScore per layer, one series per pair, encoder and decoder (beyond
    WIDE_MAX_PAIRS: a heat map each, a row per pair)."""
    if many(df["pair"].unique()):
        return plot_lscore_map(df, [p for p in colour if p in set(df["pair"])])
    return _by_side(df, "pair", "lscore", colour)


def plot_lscore_map(df: pd.DataFrame, pairs: list[str]):
    """Fig. 3 (a, b) for many pairs: encoder and decoder heat maps, a row per pair (``pairs``, the
    experiment's order, grouped by source language), a column per layer."""
    pairs = grouped(pairs)
    cell = cell_in(len(pairs))
    fig, axes = _panels(2, height=cell * len(pairs) + label_room(["6"]))
    vmax = float(df["lscore"].max()) or 1.0
    for n, (ax, side) in enumerate(zip(axes, ("encoder", "decoder"))):
        table = df[df["side"] == side].pivot(index="pair", columns="layer", values="lscore").reindex(pairs)
        im = heat_map(ax, table, pairs, [str(layer + 1) for layer in table.columns], cell, "viridis", 0, vmax,
                      row_labels=n == 0, col_cell=COLUMN_IN / len(table.columns))
        ax.tick_params(axis="x", labelrotation=0)
        ax.set(title=side.capitalize(), xlabel="layer")
    fig.colorbar(im, ax=axes, shrink=0.5, label="LScore")
    return fig


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
    erasure runs, Fig. 6 variants); ``df`` has columns group, pair, delta. Beyond WIDE_MAX_PAIRS
    a heat map instead (``plot_delta_map``)."""
    groups = list(dict.fromkeys(df[group]))
    pairs = list(dict.fromkeys(df["pair"]))
    if many(pairs):
        return plot_delta_map(df, group, ylabel)
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


def plot_delta_map(df: pd.DataFrame, group: str, label: str):
    """Fig. 5 and 6 for many pairs: a row per pair (grouped by source language), a column per
    ``group`` value, ΔBLEU in a diverging scale (blue gains, red losses, white none)."""
    groups = list(dict.fromkeys(df[group]))
    pairs = grouped(df["pair"])
    cell, col_cell = cell_in(len(pairs)), min(cell_in(len(groups)), 0.4)
    values = df.pivot(index="pair", columns=group, values="delta").reindex(index=pairs, columns=groups)
    fig, (ax,) = _panels(1, height=cell * len(pairs) + label_room(groups))
    fig.set_figwidth(col_cell * len(groups) + label_room(pairs) + 1.2)  # and the colour bar
    vmax = symmetric(values)
    im = heat_map(ax, values, pairs, groups, cell, "RdBu", -vmax, vmax, col_cell=col_cell)
    ax.set(ylabel="pair", xlabel=group)
    fig.colorbar(im, ax=ax, shrink=0.5, label=label)
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
    colours; ``title`` names the model. Beyond WIDE_MAX_PAIRS, dev BLEU is a heat map under the
    losses, a row per pair, a column per evaluation."""
    bleu = valid.dropna(subset=["bleu"])
    pairs = grouped(bleu["pair"]) if many(bleu["pair"].unique()) else []
    if pairs:
        cell = cell_in(len(pairs), LAYOUT_IN - 2.4)
        updates = [str(u) for u in bleu["update"].unique()]
        fig, axes = plt.subplots(2, 1, figsize=(2 * COLUMN_IN, 3 + cell * len(pairs) + label_room(updates)),
                                 layout="constrained", height_ratios=[2.4, cell * len(pairs) + label_room(updates)])
    else:
        fig, axes = _panels(2)
    fig.suptitle(title)
    train_label, dev_label = training_labels(label_smoothing)
    axes[0].plot(train["update"], train["loss"], label=train_label, color=NEUTRAL["train"],
                 **({"marker": "o", "markersize": 3} if len(train) <= 30 else {}))
    if not valid.empty:
        dev = valid.groupby("update")["loss"].mean()
        draw_series(axes[0], dev.index, dev.to_numpy(), dev_label, NEUTRAL["dev"])
    axes[0].set(title="loss", xlabel="update", ylabel="nats per target token")
    if pairs:
        table = bleu.pivot_table(index="pair", columns="update", values="bleu").reindex(pairs)
        im = heat_map(axes[1], table, pairs, [str(u) for u in table.columns], cell, "viridis",
                      float(np.nanmin(table)), float(np.nanmax(table)), col_cell=2 * COLUMN_IN / table.shape[1])
        axes[1].set(title="dev BLEU (greedy)", xlabel="update")
        fig.colorbar(im, ax=axes[1], shrink=0.5, label="BLEU")
        axes[0].legend(loc="upper center", bbox_to_anchor=(0.5, -0.25), frameon=False)  # under its panel, not the map's
        return fig
    for pair, sub in bleu.groupby("pair", sort=False):
        draw_series(axes[1], sub["update"], sub["bleu"], f"dev BLEU {pair}", colour[pair])
    axes[1].set(title="dev BLEU (greedy)", xlabel="update", ylabel="BLEU")
    if bleu.empty:
        axes[1].text(0.5, 0.5, "no dev BLEU logged", transform=axes[1].transAxes, ha="center", va="center")
    figure_legend(fig, axes, ncol=2, order=[train_label, dev_label])
    return fig
