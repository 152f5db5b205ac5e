"""The numbers behind the figures against hand-computed values, and the data each figure draws."""

import csv

import numpy as np
import pandas as pd
import pytest

from neuralloc import analysis, plots

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


def test_figures_draw_their_inputs(counts, tmp_path):
    ls = analysis.lscore(counts)
    fig = plots.plot_lscore(ls)
    enc = fig.axes[0]
    drawn = {line.get_label(): line.get_ydata().tolist() for line in enc.get_lines()}
    assert drawn["a"] == pytest.approx([9 / 14]) and drawn["b"] == pytest.approx([12 / 14])
    k = pd.DataFrame({"importance": ["te", "te", "av"], "k": [0.0, 1.0, 0.5], "delta": [0.1, -0.2, 0.3]})
    fig = plots.plot_k_sweep(k)
    lines = {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in fig.axes[0].get_lines()
             if not line.get_label().startswith("_")}  # not the zero line
    assert lines["TE"] == ([0.0, 1.0], [0.1, -0.2]) and lines["AV"] == ([0.5], [0.3])
    bars = pd.DataFrame({"run": ["x", "x", "y", "y"], "pair": ["a", "b", "a", "b"], "delta": [1.0, -2.0, 3.0, 0.5]})
    fig = plots.plot_grouped_bars(bars, "run", "ΔBLEU")
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert heights == [1.0, -2.0, 3.0, 0.5]
    vectors = {"a": {"s": np.array([1.0, 2.0, 3.0])}, "b": {"s": np.array([0.5, 0.1, 0.2])}}
    fig = plots.plot_importance(vectors, ["s"])
    assert [line.get_ydata().tolist() for line in fig.axes[0].get_lines()] == [[1.0, 2.0, 3.0], [0.5, 0.1, 0.2]]
    plots.save_figure(fig, tmp_path / "importance.png", tmp_path / "importance.pdf")
    assert (tmp_path / "importance.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "importance.pdf").read_bytes()[:5] == b"%PDF-"
    assert not list(tmp_path.glob(".*tmp"))  # no temporary files left behind


def test_training_curves_read_the_log(tmp_path):
    log = tmp_path / "train_log.csv"
    log.write_text(
        "kind,update,epoch,pair,loss,bleu,lr,tokens_per_s,wall_s\n"
        "train,10,0,,5.0,,1e-3,100,1\n"
        "train,20,0,,4.0,,1e-3,100,2\n"
        "valid,20,0,a,4.5,3.0,,,2\n"
        "valid,20,0,b,4.7,,,,2\n"
    )
    train, valid = analysis.read_training_log(log)
    fig = plots.plot_training(train, valid, "m")
    loss = {line.get_label(): line.get_ydata().tolist() for line in fig.axes[0].get_lines()}
    assert loss["train (label-smoothed)"] == [5.0, 4.0]
    assert loss["dev (mean over pairs)"] == pytest.approx([4.6])
    assert [line.get_label() for line in fig.axes[1].get_lines()] == ["a"]  # b has no BLEU


def test_allocation_and_figure_jobs_do_not_import_torch():
    """Seven figure and seven allocation jobs of the demo each save torch's ~3 s import."""
    import subprocess
    import sys

    code = "import sys, neuralloc.allocate, neuralloc.figures; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
