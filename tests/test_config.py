from pathlib import Path

import pytest
import yaml
from conftest import changed

from neuralloc.config import ConfigError, bible_editions, load_config, validate

REPO = Path(__file__).resolve().parents[1]
BASE = {"experiment": "x", "pairs": ["it-en", "en-it"], "corpus": {"name": "bible"}}


def _with(**changes):
    return changed(BASE, {key.replace("__", "."): value for key, value in changes.items()})


def test_defaults_are_filled_at_every_depth():
    cfg = validate(BASE)
    assert cfg["results_dir"] == "results"
    assert cfg["corpus"]["bible"]["dev_size"] == 1000 and cfg["corpus"]["bible"]["test_size"] == 1500
    assert cfg["download"]["bible"]["sha256"].startswith("d65a3416")
    assert cfg["method"]["rho"] == 0.9 and cfg["method"]["k"] == 0.7 and cfg["method"]["variant"] == "pair"
    assert cfg["model"]["d_model"] == 512 and cfg["model"]["pre_norm"] is False  # transformer base
    assert cfg["finetune"]["lr"] == 1e-4 and cfg["decode"]["beam"] == 4 and cfg["decode"]["lenpen"] == 0.6
    assert cfg["bpe"]["merges"] == 40000


@pytest.mark.parametrize("configfile", sorted((REPO / "configs").glob("*.yaml")) + [REPO / "config.yaml"])
def test_every_shipped_config_is_valid(configfile):
    cfg = load_config(configfile)
    assert cfg["pairs"]


@pytest.mark.parametrize(
    "cfg, key, allowed",
    [
        (_with(bpe__mergez=5), "bpe", "allowed keys: merges, min_frequency, vocab_threshold"),
        (_with(method__rho=1.5), "method.rho", "in [0, 1]"),
        (_with(method__k=-0.1), "method.k", "in [0, 1]"),
        (_with(corpus__name="bibel"), "corpus.name", "'bible', 'iwslt17', 'europarl'"),
        (_with(pairs=["it-en", "xx-en"]), "pairs[1]", "allowed: ar, bn, de, en"),
        (_with(pairs=["it-it"]), "pairs[0]", "source and target must differ"),
        (_with(pairs=["italian-en"]), "pairs[0]", "matching"),
        (_with(corpus__bible={"editions": {"it": "Q"}}), "corpus.bible.editions.it", "allowed: 4, k, 2"),
        (_with(corpus__bible={"editions": {"it": "4"}}), "corpus.bible.editions.it", "allowed for 'it': 1, d"),
        (_with(corpus={"name": "iwslt17"}, pairs=["it-en", "fr-en"]), "pairs[1]", "allowed: de, en, it, nl, ro"),
        (_with(corpus={"name": "europarl"}, pairs=["de-fr"]), "pairs[0]", "only bitexts with English"),
        (_with(corpus__bible={"dev_size": 0}), "corpus.bible.dev_size", "in [1, inf]"),
        (_with(model={"d_model": 100, "heads": 8}), "model.heads", "a divisor of d_model"),
        (_with(systems=["multilingual", "fancy"]), "systems[1]", "'individual', 'multilingual'"),
        (_with(figures={"importance_sites": ["decoder.layers.6.ffn.fc1"]}), "figures.importance_sites[0]", "L in"),
        (_with(figures={"importance_sites": ["encoder.layers.0.cross_attn.q"]}), "figures.importance_sites[0]",
         "cross_attn only in the decoder"),
        (_with(figures={"importance_sites": ["encoder.layers.-1.ffn.q"]}), "figures.importance_sites[0]", "ffn.fc1|fc2"),
        (_with(figures={"importance_pairs": ["de-en"]}), "figures.importance_pairs[0]", "allowed: it-en"),
        (_with(sweeps={"importance": ["xx"]}), "sweeps.importance[0]", "'te', 'av'"),
        # only what runs: each of these crashed late, or ran something else than asked
        (_with(train__max_tokens=512.0), "train.max_tokens", "not of type 'integer'"),
        (_with(model__d_model=64.0), "model.d_model", "not of type 'integer'"),
        (_with(train__adam_betas=[0.9, 1.0]), "train.adam_betas[1]", "in [0, 1)"),
        (_with(train__adam_betas=[-0.1, 0.98]), "train.adam_betas[0]", "in [0, 1)"),
        (_with(train__device="gpu0"), "train.device", "auto|cpu|cuda"),
        (_with(model__max_positions=2048), "model.max_positions", "in [8, 1024]"),
        (_with(preprocess={"min_tokens": 50, "max_tokens": 10}), "preprocess.min_tokens", "at most max_tokens"),
        (_with(erasure={"seeds": [-1]}), "erasure.seeds[0]", "in [0, inf]"),
        (_with(decode={"splits": []}), "decode.splits", "should be non-empty"),
        (_with(decode={"splits": ["test", "test"]}), "decode.splits", "non-unique"),
        (_with(systems=[]), "systems", "should be non-empty"),
        (_with(seeds=[]), "seeds", "should be non-empty"),
        (_with(download={"deadline_s": 0}), "download.deadline_s", "in (0, inf]"),
    ],
)
def test_bad_config_names_key_and_allowed_values(cfg, key, allowed):
    with pytest.raises(ConfigError) as err:
        validate(cfg)
    assert key in str(err.value) and allowed in str(err.value), str(err.value)


def test_missing_required_key():
    with pytest.raises(ConfigError, match="'pairs' is a required property"):
        validate({"experiment": "x", "corpus": {"name": "bible"}})


def test_malformed_yaml(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("pairs: [it-en\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(p)


def test_bible_editions_default_and_override():
    cfg = validate(_with(corpus__bible={"editions": {"en": "k"}}, pairs=["ro-en", "en-de"]))
    assert bible_editions(cfg) == {"de": "s", "en": "k", "ro": "u"}


def test_schema_documents_every_key():
    schema = yaml.safe_load((REPO / "schemas" / "config.schema.yaml").read_text())

    def walk(node, path):
        for key, sub in node.get("properties", {}).items():
            assert "description" in sub, f"{path}{key} has no description"
            walk(sub, f"{path}{key}.")

    walk(schema, "")


def test_schema_defaults_are_the_trainer_and_model_defaults():
    """One source of defaults: the schema's train and model sections agree with TrainConfig and
    ModelConfig, which bench scripts and tests build directly."""
    from dataclasses import fields

    from neuralloc.config import load_schema
    from neuralloc.model import ModelConfig
    from neuralloc.train import TrainConfig

    schema = load_schema()["properties"]
    for section, instance, only_in_code in (("train", TrainConfig(), {"seed", "strict"}),
                                             ("model", ModelConfig(vocab_size=0), {"vocab_size", "pad_id", "route_pairs",
                                                                                  "target_specific_attention", "adapter_dim"})):
        defaults = {k: v["default"] for k, v in schema[section]["properties"].items() if k != "threads"}
        assert set(defaults) | only_in_code == {f.name for f in fields(instance)}, section
        for key, value in defaults.items():
            assert getattr(instance, key) == (tuple(value) if isinstance(value, list) else value), f"{section}.{key}"
    assert TrainConfig().strict == schema["finetune"]["properties"]["strict"]["default"]


def test_schema_choices_are_the_package_vocabulary():
    """Systems, importance measures, allocation variants and module kinds: named once in the package."""
    from neuralloc.config import load_schema
    from neuralloc.sites import KINDS
    from neuralloc.systems import BASELINES, IMPORTANCE, SHORTHANDS, VARIANTS

    schema = load_schema()["properties"]
    method, sweeps = schema["method"]["properties"], schema["sweeps"]["properties"]
    assert schema["systems"]["items"]["enum"] == [*BASELINES, *SHORTHANDS]
    assert set(schema["erasure"]["properties"]["system"]["enum"]) == {s for s in SHORTHANDS if s.startswith("method-")}
    assert method["variant"]["enum"] == sweeps["variants"]["items"]["enum"] == list(VARIANTS)
    assert sweeps["importance"]["items"]["enum"] == list(IMPORTANCE)
    assert method["site_kinds"]["items"]["enum"] == list(KINDS)
    from neuralloc.readings import OPTIONS, PRESETS

    assert method["follow"]["enum"] == list(PRESETS)
    for option, values in OPTIONS.items():  # every option of a reading, and only those, settable with its values
        assert method[option]["enum"] == [*values, None], option
    assert {k for k, v in method.items() if v.get("enum", [])[-1:] == [None]} == set(OPTIONS)


def test_a_tiny_k_still_names_a_system_the_rules_accept():
    """1e-7 is YAML for a float: the system's name spells it as a plain decimal."""
    import re

    from neuralloc.design import systems
    from neuralloc.systems import SYSTEM_PATTERN

    cfg = validate(_with(method={"k": 1e-7}, systems=["method-te"]))
    (name,) = systems(cfg)
    assert name == "method-te-r0.9-k0.0000001-pair-paper" and re.fullmatch(f"(?:{SYSTEM_PATTERN})", name)


def test_the_largest_length_bucket_bounds_max_positions():
    from neuralloc.config import load_schema
    from neuralloc.data import DEFAULT_BUCKETS

    assert load_schema()["properties"]["model"]["properties"]["max_positions"]["maximum"] == DEFAULT_BUCKETS[-1]


def test_command_line_values_are_typed_as_the_schema_says():
    from neuralloc.config import typed_overrides

    # what Snakemake hands over for --config 'train={max_updates: 500, lr: 1e-3}' 'method={rho: null}' ...
    given = {"train": {"max_updates": "500", "lr": "1e-3", "bf16": "false", "device": "cpu"},
             "method": {"rho": "null", "follow": "released-code"}, "experiment": "123", "seeds": ["1", "2"]}
    typed = typed_overrides(given)
    assert typed == {"train": {"max_updates": 500, "lr": 0.001, "bf16": False, "device": "cpu"},
                     "method": {"rho": None, "follow": "released-code"}, "experiment": "123", "seeds": [1, 2]}
    cfg = validate(changed(BASE, {"train.max_updates": typed["train"]["max_updates"]}))
    assert cfg["train"]["max_updates"] == 500


def test_dotted_settings_become_config_arguments():
    from neuralloc.config import config_args

    args = config_args(["train.max_updates=500", "train.lr=1e-3", "decode.beam=5", "seeds=[1, 2]"])
    assert args == ['train={"max_updates": 500, "lr": 0.001}', 'decode={"beam": 5}', "seeds=[1, 2]"]
    with pytest.raises(ConfigError, match="key=value"):
        config_args(["train.max_updates"])


def test_settings_that_name_pairs_follow_pairs_unless_set():
    """The demo config with other pairs given on the command line (make run SET="pairs=[fr-en,en-fr]"):
    the erasure runs and Figure 2 follow the new pairs; a pair a user names that the experiment
    lacks is still an error that says so."""
    from neuralloc import design

    cfg = load_config(REPO / "config.yaml", {"pairs": ["fr-en", "en-fr"]})
    assert [label for label, _ in design.erasure_runs(cfg, 1)] == ["general 20%", "fr-en specific 50%", "en-fr specific 50%"]
    assert design.figure_pairs(cfg) == ["fr-en", "en-fr"]
    with pytest.raises(ConfigError, match=r"erasure.pairs\[0\]: 'it-en' is not one of the experiment's pairs \(allowed: fr-en, en-fr\)"):
        load_config(REPO / "config.yaml", {"pairs": ["fr-en", "en-fr"], "erasure": {"pairs": ["it-en"]}})


def test_a_command_line_change_of_an_existing_experiment_says_what_it_replaces():
    from neuralloc.config import in_place_notice

    notice = in_place_notice({"pairs": ["fr-en"], "train": {"lr": 1}}, "bible-demo", "results/bible-demo", True)
    assert "(pairs, train)" in notice and "results/bible-demo/" in notice and "experiment=NAME" in notice
    assert in_place_notice({"pairs": ["fr-en"]}, "bible-demo", "results/bible-demo", False) is None  # nothing there yet
    assert in_place_notice({"pairs": ["fr-en"], "experiment": "fr"}, "fr", "results/fr", True) is None  # a new one
    assert in_place_notice({}, "bible-demo", "results/bible-demo", True) is None
