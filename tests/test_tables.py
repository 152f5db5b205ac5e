"""Tables from hand-made score files: AVE, gains, mean +- std over seeds, bold and significance
marks, Para; and the default config's layout."""

import csv
import json
import math
from pathlib import Path

import pandas as pd
import pytest
import yaml

from neuralloc.config import validate
from neuralloc.design import Row, table_layout
from neuralloc.scoring import read_scores
from neuralloc.significance import Interval
from neuralloc.tables import build_table, format_table, make_tables, significance

REPO = Path(__file__).resolve().parents[1]
PAIRS = ["it-en", "en-it"]
SIG = "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0"
# system -> seed -> BLEU per pair
BLEU = {
    "multilingual": {1: [30.0, 20.0], 2: [32.0, 22.0]},
    "method-te-r0.9-k0.7-pair-paper": {1: [31.0, 23.0], 2: [33.0, 25.0]},
    "individual": {1: [28.0, 19.0], 2: [28.0, 21.0]},
}


def write_scores(root: Path) -> list[str]:
    paths = []
    for system, seeds in BLEU.items():
        for seed, values in seeds.items():
            path = root / f"seed{seed}" / "scores" / f"{system}.test.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "w", newline="") as f:
                w = csv.writer(f)
                w.writerow(["system", "split", "seed", "pair", "bleu", "chrf", "sentences", "bleu_signature", "chrf_signature"])
                for pair, b in zip(PAIRS, values):
                    w.writerow([system, "test", seed, pair, b, b + 20, 3, SIG, "chrF2"])
            paths.append(str(path))
    return paths


ROWS = [Row("individual", "Individual"), Row("multilingual", "Multilingual"), Row("method-te-r0.9-k0.7-pair-paper", "Method-TE")]


def test_build_table_means_stds_gains_and_parameters(tmp_path):
    scores = read_scores(write_scores(tmp_path))
    t = build_table(scores, ROWS, PAIRS, {"individual": 200, "multilingual": 100, "method-te-r0.9-k0.7-pair-paper": 100},
                    {("method-te-r0.9-k0.7-pair-paper", "en-it"): Interval(3.0, 0.5, 5.5, 0.01),
                     ("method-te-r0.9-k0.7-pair-paper", "it-en"): Interval(1.0, -0.5, 2.5, 0.3),
                     ("method-te-r0.9-k0.7-pair-paper", "ave"): Interval(2.0, 0.2, 3.8, 0.02)})
    te = t.set_index("system").loc["method-te-r0.9-k0.7-pair-paper"]
    assert te["it-en_bleu"] == pytest.approx(32.0)
    assert te["it-en_bleu_std"] == pytest.approx(math.sqrt(2))  # sample std of 31, 33
    assert te["en-it_chrf"] == pytest.approx(44.0)
    # AVE: seed means (27, 29) -> 28; Multilingual's (25, 27) -> 26; gain 2
    assert te["ave_bleu"] == pytest.approx(28.0)
    assert te["ave_gain"] == pytest.approx(2.0)
    assert te["seeds"] == 2
    assert (te["en-it_low"], te["en-it_high"], te["en-it_p"], te["en-it_marked"]) == (0.5, 5.5, 0.01, True)
    assert not te["it-en_marked"] and te["ave_marked"] and te["ave_low"] == 0.2
    assert not t.set_index("system").loc["individual", "ave_marked"]  # no interval: no mark
    assert t.set_index("system").loc["individual", "parameters"] == 200
    md = format_table(t, PAIRS, "md").set_index("System")
    assert md.loc["Method-TE", "En→It"] == "**24.00 ± 1.41**†"  # best in column, significant
    assert md.loc["Multilingual", "It→En"] == "31.00 ± 1.41"
    assert md.loc["Method-TE", "AVE"] == "**28.00 ± 1.41**+2.00†"  # the average gain's interval excludes zero
    assert md.loc["Individual", "AVE"] == "24.00 ± 0.71-2.00"  # seeds 23.5 and 24.5; 24 - 26
    assert md.loc["Individual", "Para"] == "0.00M"
    tex = format_table(t, PAIRS, "tex").set_index("System")
    assert tex.loc["Method-TE", r"En$\rightarrow$It"] == r"\textbf{24.00 $\pm$ 1.41}$^\dagger$"


def test_the_mark_follows_the_interval_not_the_size_of_the_scores():
    """A difference of 0.2 between 0.3 and 0.1 BLEU whose interval excludes zero is marked; one
    of 3 between 30 and 27 whose interval holds zero is not; a significant loss is marked too."""
    rows = [Row("multilingual", "Multilingual"), Row("m", "M")]

    def cell(base, bleu, interval):
        scores = pd.DataFrame([{"system": s, "pair": "it-en", "bleu": b, "chrf": 1.0, "seed": 1}
                               for s, b in (("multilingual", base), ("m", bleu))])
        table = build_table(scores, rows, ["it-en"], {}, {("m", "it-en"): interval})
        return format_table(table, ["it-en"], "md").set_index("System").loc["M", "It→En"]

    assert cell(0.1, 0.3, Interval(0.2, 0.05, 0.4, 0.01)) == "**0.30**†"
    assert cell(27.0, 30.0, Interval(3.0, -0.4, 6.1, 0.09)) == "**30.00**"
    assert cell(30.0, 27.0, Interval(-3.0, -5.0, -1.0, 0.002)) == "27.00†"


def test_missing_scores_are_a_clear_error(tmp_path):
    scores = read_scores(write_scores(tmp_path))
    with pytest.raises(ValueError, match="adapter"):
        build_table(scores, [Row("adapter", "+Adapter")], PAIRS, {})


def test_significance_per_pair_and_on_average_from_one_set_of_resamples():
    """A system that translates it-en exactly where Multilingual outputs nothing, and en-it as
    Multilingual does: it-en's gain is sure, en-it's is exactly zero, the average gain is half of
    it-en's on every resample."""
    refs = {"it-en": [f"the quick brown fox number {i} jumps over the lazy dog" for i in range(30)],
            "en-it": [f"la volpe numero {i} salta sopra il cane pigro" for i in range(30)]}
    empty = {"it-en": [""] * 30, "en-it": refs["en-it"]}
    good = {"it-en": refs["it-en"], "en-it": refs["en-it"]}
    out = significance({"multilingual": empty, "m": good}, refs, ["multilingual", "m"], 200)
    assert set(out) == {("m", "it-en"), ("m", "en-it"), ("m", "ave")}
    assert out[("m", "it-en")].value == pytest.approx(100.0) and out[("m", "it-en")].sign == 1
    assert (out[("m", "en-it")].low, out[("m", "en-it")].high, out[("m", "en-it")].p) == (0.0, 0.0, 1.0)
    assert out[("m", "ave")].low == pytest.approx(50.0) and out[("m", "ave")].high == pytest.approx(50.0)
    assert significance({"m": good}, refs, ["m"], 200) == {}  # no Multilingual: nothing to compare with
    assert significance({"multilingual": empty, "m": good}, refs, ["m"], 0) == {}


def test_make_tables_writes_every_format(tmp_path):
    scores = write_scores(tmp_path)
    refs = {"it-en": ["the dog runs fast today", "a cat sleeps"], "en-it": ["il cane corre oggi", "un gatto dorme"]}
    raw = tmp_path / "raw"
    raw.mkdir()
    for pair, lines in refs.items():
        (raw / f"test.{pair}.tgt").write_text("\n".join(lines) + "\n")
        for system in BLEU:
            d = tmp_path / "seed1" / "translations" / system
            d.mkdir(parents=True, exist_ok=True)
            (d / f"test.{pair}.txt").write_text("\n".join(lines) + "\n")
    cards, card_systems = [], []
    for system in BLEU:
        for j in range(2 if system == "individual" else 1):
            card = tmp_path / f"{system}{j}.json"
            card.write_text(json.dumps({"parameters": 1_500_000}))
            cards.append(str(card))
            card_systems.append(system)
    hypotheses = [str(tmp_path / "seed1" / "translations" / s / f"test.{p}.txt") for s in BLEU for p in PAIRS]
    out = tmp_path / "tables"
    layout = {"main": [[r.system, r.label] for r in ROWS]}
    make_tables(layout, PAIRS, "test", 50, scores, hypotheses, list(BLEU), [str(raw / f"test.{p}.tgt") for p in PAIRS],
                cards, card_systems, [out / "main.csv"], [out / "main.md"], [out / "main.tex"], [out / "main.html"])
    table = pd.read_csv(out / "main.csv").set_index("system")
    assert table.loc["individual", "parameters"] == 3_000_000  # the Individual row sums its models
    assert table.loc["method-te-r0.9-k0.7-pair-paper", "it-en_p"] == 1.0  # identical hypotheses: not significant
    md = (out / "main.md").read_text()
    assert "| Method-TE" in md and "3.00M" in md and SIG in md and "2 training seeds" in md
    tex = (out / "main.tex").read_text()
    assert r"\toprule" in tex and r"\caption{" in tex and "†" not in tex
    page = (out / "main.html").read_text()  # the report's view: the formatted table, not the raw columns
    assert "<td>Method-TE</td>" in page and "<caption>" in page and "3.00M" in page and "it-en_bleu" not in page
    assert "<b>" in page and "**" not in page


def test_default_config_shows_the_method_beside_its_controls_and_every_baseline_in_the_tests_config():
    config = validate(yaml.safe_load((REPO / "config.yaml").read_text()))
    layout = table_layout(config)
    assert [r.label for r in layout["main"]] == ["Multilingual", "Multilingual (continued)", "Method-AV", "Method-TE"]
    assert {"rho", "k", "readings"} <= set(layout)  # the sweeps the figures and the readings table need
    tests = validate(yaml.safe_load((REPO / "configs/tests.yaml").read_text()))
    assert [r.label for r in table_layout(tests)["main"]] == [
        "Individual", "Multilingual", "Multilingual (continued)", "+TS", "+Adapter", "Method-AV", "Method-TE", "+Expansion",
    ]


@pytest.mark.parametrize("scale", ["12 many-to-many", "21 one-to-many", "132 many-to-many"])
def test_tables_read_at_many_pairs(scale, tmp_path):
    """A column per pair up to WIDE_MAX_PAIRS; beyond, the summary and a row per pair, split so
    that no Markdown line passes MD_LINE_MAX, every cell still there; the CSV a row per system."""
    import many_pairs

    from neuralloc.languages import WIDE_MAX_PAIRS
    from neuralloc.tables import MD_LINE_MAX, pair_label, write_table

    pairs = many_pairs.SCALES[scale]
    rows = many_pairs.ROWS + [Row(f"method-te-r0.{i}-k0.7-pair-paper", f"Method-TE (ρ=0.{i})") for i in range(1, 9)]
    scores = many_pairs.scores(pairs)
    te = scores[scores["system"] == "method-te"]
    scores = pd.concat([scores] + [te.assign(system=r.system, bleu=te["bleu"] - i / 100) for i, r in enumerate(rows[8:], 1)])
    table = build_table(scores, rows, pairs, {})
    out = {f: tmp_path / f"t.{f}" for f in ("csv", "md", "tex", "html")}
    write_table(table, pairs, "main (test). Caption.", **{"csv": out["csv"], "md": out["md"], "tex": out["tex"]},
                html_path=out["html"])
    md = out["md"].read_text()
    assert pd.read_csv(out["csv"])["system"].tolist() == [r.system for r in rows]
    if len(pairs) <= WIDE_MAX_PAIRS:
        assert md.count("| System") == 1 and pair_label(pairs[-1]) in md.splitlines()[0]
        return
    assert max(map(len, md.splitlines())) <= MD_LINE_MAX
    assert md.count("| Pair") > 1  # 16 systems do not fit one line: two tables of pairs
    for pair in pairs:
        assert sum(line.startswith(f"| {pair_label(pair)} ") for line in md.splitlines()) == md.count("| Pair")
    assert md.count("**") // 2 == len(pairs) + 1  # the best system of each pair, and on AVE, still bold
    assert r"\begin{longtable}" in out["tex"].read_text() and "it-en_bleu" not in out["html"].read_text()
