import re

from neuralloc.systems import (
    SYSTEM_PATTERN, expand_systems, label, method_system, model_config_for, parse_method_system,
)

PAIRS = ["it-en", "en-it"]


def test_method_system_names_round_trip():
    name = method_system("te", 0.9, 0.7, "pair")
    assert name == "method-te-r0.9-k0.7-pair"
    assert parse_method_system(name) == {"family": "method", "imp": "te", "rho": "0.9", "k": "0.7", "variant": "pair"}
    assert method_system("av", 1.0, 0, "separate") == "method-av-r1-k0-separate"
    assert parse_method_system("multilingual") is None


def test_shorthand_expands_with_the_configured_allocation():
    method = {"rho": 0.7, "k": 0.9, "variant": "source"}
    assert expand_systems(["multilingual", "method-av"], method) == ["multilingual", "method-av-r0.7-k0.9-source"]


def test_wildcard_pattern_accepts_exactly_the_system_names():
    pattern = re.compile(f"(?:{SYSTEM_PATTERN})")
    for ok in ("individual", "multilingual", "continued", "ts", "adapter", "method-te-r0.95-k0.7-target",
               "expansion-te-r0.9-k0.7-pair", "method-av-r0.9-k0.7-pair.erase-it-en-f0.5-s2"):
        assert pattern.fullmatch(ok)
    for bad in ("method-te", "method-xx-r1-k1-pair", "multilingual2", "expansion", "wide"):
        assert not pattern.fullmatch(bad)


def test_system_names_architectures_and_labels():
    method = {"rho": 0.9, "k": 0.7, "variant": "pair"}
    names = expand_systems(["individual", "continued", "ts", "adapter", "method-av", "expansion"], method)
    assert names[-2:] == ["method-av-r0.9-k0.7-pair", "expansion-te-r0.9-k0.7-pair"]
    assert [label(n) for n in names] == ["Individual", "Multilingual (continued)", "+TS", "+Adapter", "Method-AV", "+Expansion"]
    assert parse_method_system("expansion-te-r0.9-k0.7-pair.erase-general-f0.2-s1")["family"] == "expansion"
    model = {"d_model": 8, "ffn_dim": 16}
    base = {"adapter_dim": 4, "expansion_ffn_dim": 24}
    assert model_config_for("wide", model, base, PAIRS)["ffn_dim"] == 24
    assert model_config_for("adapter", model, base, PAIRS)["adapter_dim"] == 4
    assert model_config_for("ts", model, base, PAIRS)["route_pairs"] == PAIRS
    assert model_config_for("multilingual", model, base, PAIRS) == model
