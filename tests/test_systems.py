import re

from neuralloc.systems import (
    SYSTEM_PATTERN, expand_systems, label, method_system, model_config_for, parse_method_system,
)

PAIRS = ["it-en", "en-it"]


def test_method_system_names_round_trip():
    name = method_system("te", 0.9, 0.7, "pair")
    assert name == "method-te-r0.9-k0.7-pair-paper"
    assert parse_method_system(name) == {"family": "method", "imp": "te", "rho": "0.9", "k": "0.7", "variant": "pair",
                                         "reading": "paper"}
    assert method_system("av", 1.0, 0, "separate", "code") == "method-av-r1-k0-separate-code"
    assert parse_method_system("method-av-r0.7-k0.9-pair-x010100101")["reading"] == "x010100101"
    assert parse_method_system("multilingual") is None


def test_shorthand_expands_with_the_configured_allocation():
    method = {"rho": 0.7, "k": 0.9, "variant": "source", "follow": "paper"}
    assert expand_systems(["multilingual", "method-av"], method) == ["multilingual", "method-av-r0.7-k0.9-source-paper"]
    code = {**method, "follow": "released-code"}
    assert expand_systems(["method-te"], code) == ["method-te-r0.7-k0.9-source-code"]
    mixed = {**method, "threshold": "gt"}  # the paper's reading with the released code's threshold
    assert expand_systems(["method-te"], mixed) == ["method-te-r0.7-k0.9-source-x000000010"]


def test_wildcard_pattern_accepts_exactly_the_system_names():
    pattern = re.compile(f"(?:{SYSTEM_PATTERN})")
    for ok in ("individual", "multilingual", "continued", "ts", "adapter", "method-te-r0.95-k0.7-target-paper",
               "expansion-te-r0.9-k0.7-pair-code", "method-av-r0.9-k0.7-pair-paper.erase-it-en-f0.5-s2"):
        assert pattern.fullmatch(ok)
    for bad in ("method-te", "method-xx-r1-k1-pair-paper", "method-te-r1-k1-pair", "method-te-r1-k1-pair-x0", "multilingual2",
                "method-te-r1-k1-pair-x00000", "method-te-r1-k1-pair-x000000002", "expansion", "wide"):
        assert not pattern.fullmatch(bad)


def test_system_names_architectures_and_labels():
    method = {"rho": 0.9, "k": 0.7, "variant": "pair", "follow": "paper"}
    names = expand_systems(["individual", "continued", "ts", "adapter", "method-av", "expansion"], method)
    assert names[-2:] == ["method-av-r0.9-k0.7-pair-paper", "expansion-te-r0.9-k0.7-pair-paper"]
    assert [label(n) for n in names] == ["Individual", "Multilingual (continued)", "+TS", "+Adapter", "Method-AV", "+Expansion"]
    assert parse_method_system("expansion-te-r0.9-k0.7-pair-paper.erase-general-f0.2-s1")["family"] == "expansion"
    model = {"d_model": 8, "ffn_dim": 16}
    base = {"adapter_dim": 4, "expansion_ffn_dim": 24}
    assert model_config_for("wide", model, base, PAIRS)["ffn_dim"] == 24
    assert model_config_for("adapter", model, base, PAIRS)["adapter_dim"] == 4
    assert model_config_for("ts", model, base, PAIRS)["route_pairs"] == PAIRS
    assert model_config_for("multilingual", model, base, PAIRS) == model


def test_readings_are_named_by_their_options():
    from neuralloc import readings

    paper = readings.options({"follow": "paper"})
    assert paper == {"importance_data": "train", "importance_loss": "label_smoothed", "importance_norm": "token_mean",
                     "importance_batches": "by_length", "first_layer_qkv": "masked", "general_count": "floor",
                     "general_ties": "stable", "threshold": "ge", "threshold_rounding": "float32"}
    code = readings.options({"follow": "released-code"})
    assert set(code.values()) == {"dev", "nll", "batch_mean_sum", "fairseq", "shared", "int", "topk", "gt", "float64"}
    assert readings.name(paper) == "paper" and readings.name(code) == "code"
    mixed = readings.options({"follow": "released-code", "importance_data": "train"})
    assert readings.name(mixed) == "x011111111" and readings.of_name("x011111111") == mixed
    assert re.fullmatch(f"(?:{readings.PATTERN})", "x011111111") and not re.fullmatch(f"(?:{readings.PATTERN})", "x01111")
    assert readings.of_name("code") == code and readings.defaults("released-code") == (0.7, 0.9)
    assert readings.of_config({"follow": "paper"}, {"follow": ["released-code", "paper"]}) == ["paper", "code"]
