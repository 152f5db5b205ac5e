"""The experiment's design (neuralloc/design.py) on a small config, every answer written by hand."""

from neuralloc import design
from neuralloc.config import validate

CONFIG = validate({
    "experiment": "x", "pairs": ["it-en", "en-it", "ro-en"], "corpus": {"name": "bible"},
    "systems": ["individual", "multilingual", "method-te", "expansion"],
    "method": {"rho": 0.9, "k": 0.7, "variant": "pair"},
    "sweeps": {"rho": [0.8], "k": [0.5, 1.0], "importance": ["av"], "variants": ["pair", "separate"]},
    "erasure": {"enabled": True, "pairs": ["ro-en"], "seeds": [1, 2], "general_fraction": 0.25},
    "decode": {"splits": ["dev", "test"]},
})
TE = "method-te-r0.9-k0.7-pair-paper"


def test_tables_rows():
    layout = design.table_layout(CONFIG)
    assert [(r.system, r.label) for r in layout["main"]] == [
        ("individual", "Individual"), ("multilingual", "Multilingual"), (TE, "Method-TE"),
        ("expansion-te-r0.9-k0.7-pair-paper", "+Expansion")]
    assert [(r.system, r.label) for r in layout["rho"]] == [("method-te-r0.8-k0.7-pair-paper", "ρ = 0.8")]
    assert [(r.system, r.label) for r in layout["k"]] == [
        ("method-av-r0.9-k0.5-pair-paper", "AV k = 0.5"), ("method-av-r0.9-k1-pair-paper", "AV k = 1")]
    assert [(r.system, r.label) for r in layout["variants"]] == [(TE, "by pair"), ("method-te-r0.9-k0.7-separate-paper", "separate enc-dec")]


def test_empty_sweeps_have_no_table_and_multilingual_is_always_scored():
    config = validate({**CONFIG, "systems": ["method-av"], "sweeps": {"rho": [], "k": [], "variants": []}})
    assert list(design.table_layout(config)) == ["main"]
    assert design.table_systems(config) == ["method-av-r0.9-k0.7-pair-paper", "multilingual"]
    assert "k_sweep" not in design.figure_stems(config) and "variants" not in design.figure_stems(config)


def test_systems_scored():
    assert design.table_systems(CONFIG) == [
        "individual", "multilingual", TE, "expansion-te-r0.9-k0.7-pair-paper", "method-te-r0.8-k0.7-pair-paper",
        "method-av-r0.9-k0.5-pair-paper", "method-av-r0.9-k1-pair-paper", "method-te-r0.9-k0.7-separate-paper"]
    assert design.erasure_systems(CONFIG) == [
        f"{TE}.erase-general-f0.25-s1", f"{TE}.erase-ro-en-f0.5-s1", f"{TE}.erase-general-f0.25-s2", f"{TE}.erase-ro-en-f0.5-s2"]
    assert design.scored_systems(CONFIG)[-4:] == design.erasure_systems(CONFIG)


def test_figure_runs():
    runs, reference = design.erasure_figure_runs(CONFIG)
    assert runs == [["general 25%", f"{TE}.erase-general-f0.25-s1"], ["ro-en specific 50%", f"{TE}.erase-ro-en-f0.5-s1"]]
    assert reference == TE
    assert design.k_sweep_points(CONFIG) == [["av", 0.5, "method-av-r0.9-k0.5-pair-paper"], ["av", 1.0, "method-av-r0.9-k1-pair-paper"]]
    assert design.variant_runs(CONFIG) == [["by pair", TE], ["separate enc-dec", "method-te-r0.9-k0.7-separate-paper"]]
    assert design.figure_allocation(CONFIG) == {"reading": "paper", "imp": "te", "rho": "0.9", "k": "0.7", "variant": "pair"}
    assert design.figure_pairs(CONFIG) == ["it-en", "en-it", "ro-en"]


def test_models_behind_systems_and_their_curves():
    assert design.models_of("individual", ["it-en", "ro-en"]) == ["individual/it-en", "individual/ro-en"]
    assert design.models_of(f"{TE}.erase-general-f0.2-s1", ["it-en"]) == [TE]
    assert design.curve_models(CONFIG) == [
        "individual/it-en", "individual/en-it", "individual/ro-en", "multilingual", TE, "expansion-te-r0.9-k0.7-pair-paper"]
    stems = design.figure_stems(CONFIG)
    assert "training_curves_individual-en-it" in stems and "erasure" in stems and "k_sweep" in stems


def test_the_reported_split_is_test_whenever_it_is_translated():
    assert design.reported_split(CONFIG) == "test"
    assert design.reported_split(validate({**CONFIG, "decode": {"splits": ["dev"]}})) == "dev"


def test_readings_table_shows_each_reading_at_its_own_rho_and_k():
    config = validate({**CONFIG, "sweeps": {**CONFIG["sweeps"], "follow": ["released-code"]}})
    rows = [(r.system, r.label) for r in design.table_layout(config)["readings"]]
    assert rows == [(TE, "Method-TE (paper)"), ("method-av-r0.9-k0.7-pair-paper", "Method-AV (paper)"),
                    ("method-te-r0.7-k0.9-pair-code", "Method-TE (released code)"),
                    ("method-av-r0.7-k0.9-pair-code", "Method-AV (released code)")]
    assert "readings" not in design.table_layout(CONFIG)  # one reading: no table
    code = validate({**CONFIG, "method": {"follow": "released-code"}})
    assert design.systems(code)[2] == "method-te-r0.7-k0.9-pair-code" and design.reading(code) == "code"


def test_erasure_runs_default_to_the_first_four_pairs():
    """Without erasure.pairs, the first four pairs get a run each (not every pair of a big experiment)."""
    pairs = ["en-de", "en-fr", "en-it", "en-ro", "en-pl", "en-es"]
    config = validate({**CONFIG, "pairs": pairs, "erasure": {"enabled": True, "seeds": [1]}})
    runs = design.erasure_runs(config, 1)
    assert [label for label, _ in runs] == ["general 20%"] + [f"{p} specific 50%" for p in pairs[:4]]
    few = validate({**CONFIG, "pairs": pairs[:2], "erasure": {"enabled": True, "seeds": [1]}})
    assert len(design.erasure_runs(few, 1)) == 3  # fewer pairs than that: every pair
