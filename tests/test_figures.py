"""The numbers behind the figures against hand-computed values, and the data each figure draws."""

import csv

import matplotlib.colors
import matplotlib.text
import numpy as np
import pandas as pd
import pytest

from neuralloc import analysis, figures, plots

COUNTS = [  # site, pair, width, general, specific
    ("encoder.layers.0.self_attn.q", "a", 10, 6, 4),
    ("encoder.layers.0.self_attn.q", "b", 10, 6, 2),
    ("encoder.layers.0.ffn.fc1", "a", 20, 10, 5),
    ("encoder.layers.0.ffn.fc1", "b", 20, 10, 10),
    ("decoder.layers.1.cross_attn.v", "a", 8, 8, 0),
    ("decoder.layers.1.cross_attn.v", "b", 8, 8, 0),
    ("decoder.layers.1.ffn.fc2", "a", 4, 2, 1),
    ("decoder.layers.1.ffn.fc2", "b", 4, 2, 2),
]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plots.plt.close("all")


@pytest.fixture
def counts(tmp_path):
    path = tmp_path / "c.counts.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["site", "pair", "width", "general", "specific"])
        w.writerows(COUNTS)
    return analysis.read_counts(path)


def test_lscore_by_hand(counts):
    ls = analysis.lscore(counts).set_index(["side", "layer", "pair"])["lscore"]
    # encoder layer 0: specific neurons 4 (q) + 10 (fc1) = 14; a has 4 + 5, b has 2 + 10
    assert ls[("encoder", 0, "a")] == pytest.approx(9 / 14)
    assert ls[("encoder", 0, "b")] == pytest.approx(12 / 14)
    # decoder layer 1: cross_attn.v is all general, so only fc2's 2 specific neurons count
    assert ls[("decoder", 1, "a")] == pytest.approx(1 / 2)
    assert ls[("decoder", 1, "b")] == pytest.approx(2 / 2)


def test_mscore_by_hand(counts):
    ms = analysis.mscore(counts).set_index(["side", "layer", "kind"])["mscore"]
    assert ms[("encoder", 0, "self_attn")] == pytest.approx((4 / 4 + 2 / 4) / 2)
    assert ms[("encoder", 0, "ffn")] == pytest.approx((5 / 10 + 10 / 10) / 2)
    assert ms[("decoder", 1, "ffn")] == pytest.approx((1 / 2 + 2 / 2) / 2)
    assert np.isnan(ms[("decoder", 1, "cross_attn")])  # no specific neurons: undefined, not 0


def test_ranks_and_spearman_correlation():
    assert analysis.ranks(np.array([10.0, 20.0, 20.0, 5.0])).tolist() == [1.0, 2.5, 2.5, 0.0]
    rng = np.random.default_rng(0)
    x = np.round(rng.random(50), 1)  # ties
    vectors = {
        "p": {"encoder.layers.0.ffn.fc1": x[:30], "encoder.layers.0.ffn.fc2": x[30:]},
        "q": {"encoder.layers.0.ffn.fc1": 2 * x[:30] + 1, "encoder.layers.0.ffn.fc2": 2 * x[30:] + 1},  # same order
        "r": {"encoder.layers.0.ffn.fc1": -x[:30], "encoder.layers.0.ffn.fc2": -x[30:]},  # reversed
    }
    c = analysis.importance_correlation(vectors, "ffn")
    assert c.loc["p", "q"] == pytest.approx(1.0) and c.loc["p", "r"] == pytest.approx(-1.0)
    y = rng.random(50)
    vectors["q"] = {"encoder.layers.0.ffn.fc1": y[:30], "encoder.layers.0.ffn.fc2": y[30:]}
    expected = np.corrcoef(pd.Series(x).rank(), pd.Series(y).rank())[0, 1]  # pandas' own ranking
    assert analysis.importance_correlation(vectors, "ffn").loc["p", "q"] == pytest.approx(expected)
    with pytest.raises(ValueError, match="cross_attn"):
        analysis.importance_correlation(vectors, "cross_attn")


def test_resolve_site_counts_layers_from_the_top():
    sites = [f"{side}.layers.{i}.ffn.fc1" for side in ("encoder", "decoder") for i in range(3)]
    assert analysis.resolve_site("encoder.layers.-1.ffn.fc1", sites) == "encoder.layers.2.ffn.fc1"
    assert analysis.resolve_site("decoder.layers.0.ffn.fc1", sites) == "decoder.layers.0.ffn.fc1"
    with pytest.raises(ValueError, match="unknown neuron site"):
        analysis.resolve_site("decoder.layers.7.ffn.fc1", sites)


def test_delta_bleu_averages_seeds_per_pair():
    scores = pd.DataFrame([
        {"system": "multilingual", "pair": "a", "bleu": 10.0, "seed": 1},
        {"system": "multilingual", "pair": "a", "bleu": 12.0, "seed": 2},
        {"system": "m", "pair": "a", "bleu": 13.0, "seed": 1},
        {"system": "m", "pair": "a", "bleu": 12.0, "seed": 2},
    ])
    d = analysis.delta_bleu(scores, ["m"], "multilingual")
    assert d.to_dict("records") == [{"system": "m", "pair": "a", "delta": pytest.approx(1.5)}]
    with pytest.raises(ValueError, match="nope"):
        analysis.delta_bleu(scores, ["nope"], "multilingual")


TAB10 = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"]  # matplotlib's tab10, in order: the pairs' colours


def test_figures_draw_their_inputs(counts, tmp_path):
    ls = analysis.lscore(counts)
    fig = plots.plot_lscore(ls, plots.pair_colours(["a", "b"]))
    enc = fig.axes[0]
    drawn = {line.get_label(): line.get_ydata().tolist() for line in enc.get_lines()}
    assert drawn["a"] == pytest.approx([9 / 14]) and drawn["b"] == pytest.approx([12 / 14])
    k = pd.DataFrame({"importance": ["te", "te", "te", "av"], "k": [0.0, 1.0, 0.5, 0.5], "delta": [0.1, -0.2, 0.0, 0.3]})
    fig = plots.plot_k_sweep(k)
    lines = {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in fig.axes[0].get_lines()
             if not line.get_label().startswith("_")}  # not the zero line
    assert lines["TE"] == ([0.0, 0.5, 1.0], [0.1, 0.0, -0.2]) and lines["AV"] == ([0.5], [0.3])
    bars = pd.DataFrame({"run": ["x", "x", "y", "y"], "pair": ["a", "b", "a", "b"], "delta": [1.0, -2.0, 3.0, 0.5]})
    fig = plots.plot_grouped_bars(bars, "run", "ΔBLEU", plots.series_colours(["x", "y"]))
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert heights == [1.0, -2.0, 3.0, 0.5]
    plots.save_figure(fig, tmp_path / "bars.png", tmp_path / "bars.pdf")
    assert (tmp_path / "bars.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "bars.pdf").read_bytes()[:5] == b"%PDF-"
    assert not list(tmp_path.glob(".*tmp"))  # no temporary files left behind


def test_importance_gives_each_pair_its_panel_in_one_order_of_neurons():
    """Means over a and b: 0.75, 1.05, 1.6, so the common order is neuron 2, 1, 0; each panel draws
    its pair's values in that order, and the mean line, in every panel of the row."""
    vectors = {"a": {"s": np.array([1.0, 2.0, 3.0])}, "b": {"s": np.array([0.5, 0.1, 0.2])}}
    fig = plots.plot_importance(vectors, ["s"], plots.pair_colours(["x", "a", "b"]))
    assert len(fig.axes) == 2
    for ax, pair, dots in zip(fig.axes, ("a", "b"), ([3.0, 2.0, 1.0], [0.2, 0.1, 0.5])):
        drawn = {line.get_label(): line for line in ax.get_lines()}
        assert drawn[pair].get_ydata().tolist() == dots and drawn[pair].get_linestyle() == "None"
        assert drawn["mean over the pairs shown"].get_ydata().tolist() == pytest.approx([1.6, 1.05, 0.75])
        assert matplotlib.colors.to_hex(drawn[pair].get_color()) == TAB10[["x", "a", "b"].index(pair)]
    table = plots.importance_table(vectors, ["s"])
    assert table.to_dict("list") == {"site": ["s"] * 3, "rank": [0, 1, 2], "neuron": [2, 1, 0], "a": [3.0, 2.0, 1.0],
                                     "b": [0.2, 0.1, 0.5]}


def test_a_pair_has_one_colour_in_every_figure(counts):
    """The experiment's pairs a, b (tab10's first two colours) in LScore, Figure 2, the erasure bars,
    the training curves and the correlation's labels; other series never take a pair's colour."""
    pairs = ["a", "b"]
    colour = plots.pair_colours(pairs)
    assert colour == {"a": TAB10[0], "b": TAB10[1]}
    assert len(set(plots.pair_colours([f"p{i}" for i in range(12)]).values())) == 12  # tab20 beyond ten pairs
    figures = _every_figure(counts)
    assert _series(figures["lscore"])["a"] == {TAB10[0]} and _series(figures["importance"])["b"] == {TAB10[1]}
    assert _series(figures["training"])["dev BLEU a"] == {TAB10[0]}
    erased = pd.DataFrame({"erased": ["general 20%", "general 20%", "b specific 50%", "b specific 50%"],
                           "pair": ["a", "b", "a", "b"], "delta": [-9.0, -8.0, -1.0, -5.0]})
    runs = ["general 20%", "b specific 50%"]
    bars = _series(plots.plot_grouped_bars(erased, "erased", "ΔBLEU", plots.erasure_colours(runs, pairs)))
    assert bars["b specific 50%"] == {TAB10[1]} and bars["general 20%"].isdisjoint(TAB10)
    ticks = {t.get_text(): matplotlib.colors.to_hex(t.get_color()) for t in figures["correlation"].axes[0].get_xticklabels()}
    assert ticks == {"a": TAB10[0], "b": TAB10[1], "c": TAB10[2]}
    for name in ("mscore", "k_sweep", "bars"):
        assert not set().union(*_series(figures[name]).values()) & set(TAB10), name


def test_a_few_settings_are_drawn_as_points_with_a_note():
    two = pd.DataFrame({"importance": ["te", "te"], "k": [0.5, 0.7], "delta": [0.1, 0.2]})
    fig = plots.plot_k_sweep(two)
    (line,) = [x for x in fig.axes[0].get_lines() if x.get_label() == "TE"]
    assert line.get_linestyle() == "None" and line.get_marker() == "o"
    assert "only 2 values of k: points, not a curve" in fig.axes[0].get_title()
    three = pd.DataFrame({"importance": ["te"] * 3, "k": [0.5, 0.7, 0.9], "delta": [0.1, 0.2, 0.0]})
    fig = plots.plot_k_sweep(three)
    (line,) = [x for x in fig.axes[0].get_lines() if x.get_label() == "TE"]
    assert line.get_linestyle() == "-" and "not a curve" not in fig.axes[0].get_title()


def test_training_curves_read_the_log_and_name_each_loss(tmp_path):
    log = tmp_path / "train_log.csv"
    log.write_text(
        "kind,update,epoch,pair,loss,bleu,lr,tokens_per_s,wall_s\n"
        "train,10,0,,5.0,,1e-3,100,1\n"
        "train,20,0,,4.0,,1e-3,100,2\n"
        "valid,20,0,a,4.5,3.0,,,2\n"
        "valid,20,0,b,4.7,,,,2\n"
    )
    train, valid = analysis.read_training_log(log)
    fig = plots.plot_training(train, valid, "m", plots.pair_colours(["a", "b"]), label_smoothing=0.1)
    loss = {line.get_label(): line.get_ydata().tolist() for line in fig.axes[0].get_lines()}
    assert loss["train: cross-entropy with label smoothing 0.1"] == [5.0, 4.0]
    assert loss["dev: cross-entropy without smoothing, mean over pairs"] == pytest.approx([4.6])
    assert fig.axes[0].get_ylabel() == "nats per target token"
    assert [line.get_label() for line in fig.axes[1].get_lines()] == ["dev BLEU a"]  # b has no BLEU
    assert fig.axes[0].get_lines()[0].get_marker() == "o"  # two points: drawn as points, not an invisible line
    out = {f: tmp_path / f"t.{f}" for f in ("png", "pdf", "csv", "html")}
    figures.training_figures([str(log)], ["m"], ["a", "b"], 0.1, [out["png"]], [out["pdf"]], [out["csv"]], [out["html"]],
                             caption="What the curves are.")
    rows = pd.read_csv(out["csv"])
    assert rows["kind"].tolist() == ["train", "train", "valid", "valid"] and rows["loss"].tolist() == [5.0, 4.0, 4.5, 4.7]
    assert rows["loss_is"].iloc[0].startswith("train: cross-entropy with label smoothing")
    page = out["html"].read_text()
    assert "What the curves are." in page and "data:image/png;base64," in page and "t.csv" in page


def test_every_figure_entry_point_writes_its_numbers_and_its_page(tmp_path):
    """importance.csv (it had none) and the report page with the caption under the figure."""
    from safetensors.numpy import save_file

    paths = []
    for pair, values in (("it-en", [1.0, 3.0, 2.0]), ("en-it", [0.5, 0.4, 0.6])):
        path = tmp_path / f"{pair}.safetensors"
        save_file({"encoder.layers.0.ffn.fc1": np.array(values, dtype=np.float32)}, str(path),
                  metadata={"pair": pair, "method": "te"})
        paths.append(str(path))
    out = {f: str(tmp_path / f"importance.{f}") for f in ("png", "pdf", "csv", "html")}
    figures.importance_figure(paths, ["it-en", "en-it"], ["it-en", "en-it"], ["encoder.layers.-1.ffn.fc1"], **out,
                              caption="Figure 2, explained.")
    numbers = pd.read_csv(out["csv"])
    assert numbers["neuron"].tolist() == [1, 2, 0] and numbers["it-en"].tolist() == [3.0, 2.0, 1.0]
    page = open(out["html"]).read()
    assert "Figure 2, explained." in page and "importance.csv" in page and page.index("<img") < page.index("Figure 2, explained.")


def _series(fig) -> dict[str, set]:
    """Label -> the colours it is drawn in, over every panel (lines and bars)."""
    out: dict[str, set] = {}
    for ax in fig.axes:
        for line in ax.get_lines():
            if not line.get_label().startswith("_"):
                out.setdefault(line.get_label(), set()).add(matplotlib.colors.to_hex(line.get_color()))
        for bars in ax.containers:
            out.setdefault(bars.get_label(), set()).add(matplotlib.colors.to_hex(bars.patches[0].get_facecolor()))
    return out


def _legend(fig) -> dict[str, str]:
    """Label -> colour of each entry of the figure's legends (figure-level and per panel)."""
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    out = {}
    for legend in legends:
        for handle, text in zip(legend.legend_handles, legend.get_texts()):
            colour = handle.get_color() if hasattr(handle, "get_color") else handle.get_facecolor()
            out[text.get_text()] = matplotlib.colors.to_hex(colour)
    return out


def _every_figure(counts):
    ls, ms = analysis.lscore(counts), analysis.mscore(counts)
    pairs = plots.pair_colours(["a", "b", "c"])
    vectors = {p: {"encoder.layers.0.ffn.fc1": np.arange(4.0) * (i + 1)} for i, p in enumerate(["a", "b", "c"])}
    corr = {"ffn": analysis.importance_correlation(vectors, "ffn")}
    k = pd.DataFrame({"importance": ["te", "te", "av", "av"], "k": [0.5, 0.7, 0.5, 0.7], "delta": [0.1, -0.2, 0.3, 0.0]})
    bars = pd.DataFrame({"run": ["x", "x", "y", "y"], "pair": ["a", "b", "a", "b"], "delta": [1.0, -2.0, 3.0, 0.5]})
    train = pd.DataFrame({"update": [10, 20, 30], "loss": [5.0, 4.0, 3.5]})
    valid = pd.DataFrame({"update": [30, 30], "pair": ["a", "b"], "loss": [4.5, 4.7], "bleu": [3.0, 2.0]})
    return {
        "importance": plots.plot_importance(vectors, ["encoder.layers.0.ffn.fc1"], pairs),
        "correlation": plots.plot_correlation(corr, pairs),
        "lscore": plots.plot_lscore(ls, pairs), "mscore": plots.plot_mscore(ms), "k_sweep": plots.plot_k_sweep(k),
        "bars": plots.plot_grouped_bars(bars, "run", "ΔBLEU", plots.series_colours(["x", "y"])),
        "training": plots.plot_training(train, valid, "m", pairs, 0.1),
    }


def test_every_figure_has_one_colour_per_series_and_a_legend_that_matches(counts, tmp_path):
    for name, fig in _every_figure(counts).items():
        series, legend = _series(fig), _legend(fig)
        if series:  # the heat map has a colour bar instead
            assert set(legend) == set(series), name  # every series in the legend, nothing else
            for label, drawn in series.items():
                assert drawn == {legend[label]}, (name, label)  # the same colour in every panel, as the legend says
            assert len(set(legend.values())) == len(legend), name  # no two series share a colour
        plots.save_figure(fig, tmp_path / f"{name}.png", tmp_path / f"{name}.pdf")
        assert (tmp_path / f"{name}.png").stat().st_size > 0


def overprints(fig) -> list[str]:
    """What a reader cannot read in ``fig``: a legend cut off or over a panel, two texts (tick
    labels, titles, axis and legend labels) over each other; [] when all is clear."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    found = []
    for legend in fig.legends + [ax.get_legend() for ax in fig.axes if ax.get_legend()]:
        box = legend.get_window_extent(renderer)
        if box.x0 < 0 or box.y0 < 0 or box.x1 > fig.bbox.width + 1:
            found.append("a legend is cut off")
        if any(box.overlaps(ax.get_window_extent(renderer)) for ax in fig.axes if ax is not legend.axes):
            found.append("a legend is over a panel")
    undrawn = {id(tick.label1) for ax in fig.axes for axis in (ax.xaxis, ax.yaxis)  # ticks outside the view
               for tick in axis.get_major_ticks() + axis.get_minor_ticks()
               if tick.get_loc() is None or not min(axis.get_view_interval()) - 1e-9 <= tick.get_loc()
               <= max(axis.get_view_interval()) + 1e-9}
    texts = [t for t in fig.findobj(matplotlib.text.Text) if t.get_visible() and t.get_text().strip()
             and id(t) not in undrawn and not (t.axes and t in t.axes.texts)]  # numbers in a heat map's cells are meant
    boxes = np.array([t.get_window_extent(renderer).extents for t in texts]).reshape(-1, 4) + [0.5, 0.5, -0.5, -0.5]
    x0, y0, x1, y1 = boxes.T[:, :, None]
    over = (x0 < x1.T) & (x0.T < x1) & (y0 < y1.T) & (y0.T < y1)
    for i, j in zip(*np.nonzero(np.triu(over, 1))):
        found.append(f"{texts[i].get_text()!r} over {texts[j].get_text()!r}")
    return found


def test_two_panel_figures_keep_their_labels_apart(counts):
    figures = _every_figure(counts)
    for name in ("lscore", "mscore", "training"):
        fig = figures[name]
        assert overprints(fig) == [], name
        renderer = fig.canvas.get_renderer()
        left, right = fig.axes[0], fig.axes[1]
        right_label = right.yaxis.label.get_window_extent(renderer)
        assert right_label.x0 > left.get_tightbbox(renderer).x1, name  # the right panel's y-label clears the left panel


@pytest.mark.parametrize("scale", ["21 one-to-many", "132 many-to-many"])
def test_every_figure_reads_at_many_pairs(scale, tmp_path):
    """English into 21 languages and 12 languages many-to-many: every figure at most MAX_PX a
    side, nothing over anything, and no pair told by colour (heat maps instead)."""
    import many_pairs
    from PIL import Image

    for name, fig in many_pairs.figures(many_pairs.SCALES[scale]).items():
        assert overprints(fig) == [], (scale, name)
        assert len(_legend(fig)) <= 4, (scale, name)  # losses, measures, kinds: never a legend of pairs
        fig.savefig(tmp_path / f"{name}.png", bbox_inches="tight")
        plots.plt.close(fig)
        assert max(Image.open(tmp_path / f"{name}.png").size) <= plots.MAX_PX, (scale, name)


def test_allocation_and_figure_jobs_do_not_import_torch():
    """Seven figure and seven allocation jobs of the demo each save torch's ~3 s import."""
    import subprocess
    import sys

    code = "import sys, neuralloc.allocate, neuralloc.figures; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
