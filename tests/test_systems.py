import re

from neuralloc.systems import SYSTEM_PATTERN, expand_systems, method_system, parse_method_system


def test_method_system_names_round_trip():
    name = method_system("te", 0.9, 0.7, "pair")
    assert name == "method-te-r0.9-k0.7-pair"
    assert parse_method_system(name) == {"imp": "te", "rho": "0.9", "k": "0.7", "variant": "pair"}
    assert method_system("av", 1.0, 0, "separate") == "method-av-r1-k0-separate"
    assert parse_method_system("multilingual") is None


def test_shorthand_expands_with_the_configured_allocation():
    method = {"rho": 0.7, "k": 0.9, "variant": "source"}
    assert expand_systems(["multilingual", "method-av"], method) == ["multilingual", "method-av-r0.7-k0.9-source"]


def test_wildcard_pattern_accepts_exactly_the_system_names():
    pattern = re.compile(f"(?:{SYSTEM_PATTERN})")
    for ok in ("individual", "multilingual", "method-te-r0.95-k0.7-target"):
        assert pattern.fullmatch(ok)
    for bad in ("method-te", "method-xx-r1-k1-pair", "multilingual2"):
        assert not pattern.fullmatch(bad)
