"""What each rule's outputs depend on: its Snakemake ``params``, and nothing else.

Snakemake reruns a job when its params change, so a rule's params carry exactly the settings that
change its outputs: one function per rule here, each returning the ``settings`` dict of one job
(keys sorted at every level, so that the same config written in another key order is the same
params). Settings that change how a job runs but not what it computes (threads, devices, log
intervals, download mirrors and retries, batch sizes of decoding...) never reach params: the
``*_execution`` functions hand them to the scripts, which read them from the config. Which splits,
systems, seeds and sweep points are requested only decides which jobs exist.
"""

from __future__ import annotations

import math

from . import captions, design, readings
from .corpora import download_plan
from .languages import Pair, languages_of
from .sites import KINDS
from .systems import FAMILY_BASE, erasure_of, has_dropout, model_config_for

# train settings that do not change a trained model; valid_bleu_sentences joins them unless it
# picks the best checkpoint (best_by: bleu), compile unless the model has dropout (compiled code
# draws dropout's random numbers its own way)
TRAIN_EXECUTION = ("threads", "log_interval", "device", "compile", "keep_last", "distributed_timeout_min")
DECODE_EXECUTION = ("max_tokens",)


def canonical(value):
    """``value`` with every dict's keys sorted and tuples as lists: one spelling per meaning."""
    if isinstance(value, dict):
        return {k: canonical(value[k]) for k in sorted(value)}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    return value


# ---- data ------------------------------------------------------------------------------------


def download_execution(config: dict, file: str) -> dict:
    """Everything a download job uses is about how to fetch, not what: the file's name (its
    package and version) is its identity."""
    dl = config["download"]
    return {"spec": download_plan(config)[file], "retries": dl["retries"], "timeout_s": dl["timeout_s"],
            "deadline_s": dl["deadline_s"]}


def prepare_corpus_execution(config: dict) -> dict:
    """The expected digest of each corpus file, checked before use, and where your own files lie
    (no result depends on either: the files' digests are params)."""
    out = {"sha256": {name: spec["sha256"] for name, spec in download_plan(config).items()}}
    if config["corpus"]["name"] == "files":
        out["files_dir"] = config["corpus"]["files"]["dir"]
    return out


def prepare_corpus(config: dict) -> dict:
    """The pairs and the options of the corpus in use (another corpus's options change nothing),
    and its files: downloads by name (a name is a release), your own files by their digest."""
    name = config["corpus"]["name"]
    corpus = {"name": name, name: config["corpus"][name]}
    if name == "files":
        from .corpora.files import file_digests

        files = file_digests(config["corpus"]["files"], config["pairs"], f"{config['results_dir']}/.file-digests.json")
        corpus["files"] = {k: v for k, v in corpus["files"].items() if k != "dir"}  # where they lie is no result
    else:
        files = list(download_plan(config))
    return canonical({"config": {"pairs": config["pairs"], "corpus": corpus}, "files": files})


def tokenize(config: dict, split: str, pair: str) -> dict:
    """Training data is filtered by length; dev and test never are."""
    pre, p = config["preprocess"], Pair.parse(pair)
    length_filter = {k: pre[k] for k in ("min_tokens", "max_tokens", "max_ratio")} if split == "train" else None
    return canonical({"langs": [p.src, p.tgt], "normalize_punct": pre["normalize_punct"], "length_filter": length_filter})


def learn_bpe(config: dict) -> dict:
    bpe = config["bpe"]
    return {"langs": languages_of(config["pairs"]), "merges": bpe["merges"], "min_frequency": bpe["min_frequency"]}


def apply_bpe(config: dict) -> dict:
    return {"threshold": config["bpe"]["vocab_threshold"]}


def build_vocab(config: dict) -> dict:
    return {"target_languages": sorted({Pair.parse(p).tgt for p in config["pairs"]})}


# ---- training --------------------------------------------------------------------------------


def _train(config: dict, seed: int, overrides: dict) -> dict:
    train = {**config["train"], **overrides}
    dropout = has_dropout(config["model"])
    out = {k: v for k, v in train.items() if k not in TRAIN_EXECUTION or (k == "compile" and dropout)}
    if out["best_by"] != "bleu":
        del out["valid_bleu_sentences"]
    return {**out, "seed": seed}


def training_execution(config: dict) -> dict:
    """The train settings of every training job that change how it runs, not the model it trains."""
    train = config["train"]
    out = {k: train[k] for k in TRAIN_EXECUTION if k != "threads"}  # threads: the rule's threads
    if train["best_by"] != "bleu":
        out["valid_bleu_sentences"] = train["valid_bleu_sentences"]
    return out


def finetune_threads(config: dict) -> int:
    """CPU threads of the fine-tuning schedule's jobs (continued, masked fine-tuning)."""
    return config["finetune"].get("threads") or config["train"]["threads"]


def pretrain(config: dict, arch: str, seed: int) -> dict:
    """A pretrained architecture: its model section (+TS, +Adapter and the wide model change it),
    the train section, the seed, the pairs."""
    model = model_config_for(arch, config["model"], config["baselines"], config["pairs"])
    return canonical({"model": model, "train": _train(config, seed, {}), "pairs": config["pairs"]})


def train_individual(config: dict, pair: str, seed: int) -> dict:
    """One bilingual model: the train section with the ``individual`` overrides, one pair."""
    model = model_config_for("individual", config["model"], config["baselines"], [pair])
    return canonical({"model": model, "train": _train(config, seed, config["individual"]), "pairs": [pair]})


def continue_training(config: dict, seed: int) -> dict:
    """The continued control: Multilingual on the fine-tuning schedule, without masks."""
    model = model_config_for("multilingual", config["model"], config["baselines"], config["pairs"])
    return canonical({"model": model, "train": _train(config, seed, config["finetune"]), "pairs": config["pairs"]})


def finetune(config: dict, family: str, seed: int) -> dict:
    """Masked fine-tuning of a Method system from the architecture its family starts from."""
    model = model_config_for(FAMILY_BASE[family], config["model"], config["baselines"], config["pairs"])
    return canonical({"model": model, "train": _train(config, seed, config["finetune"]), "pairs": config["pairs"]})


# ---- the method ------------------------------------------------------------------------------


def importance(config: dict, reading: str, imp: str, seed: int) -> dict:
    """The reading's loss, normalisation and batches, and the pairs scored: every pair, in one job
    that loads the model once (its data split is the job's input); the token cap of that split and
    the seed of the sample it draws."""
    opts = readings.of_name(reading)
    smoothing = config["train"]["label_smoothing"] if opts["importance_loss"] == "label_smoothed" else 0.0
    cap = config["method"]["importance_tokens" if opts["importance_data"] == "train" else "importance_dev_tokens"]
    return {"pairs": config["pairs"], "method": imp, "label_smoothing": smoothing,
            "normalisation": opts["importance_norm"], "batches": opts["importance_batches"], "token_cap": cap,
            "seed": seed if cap else None}


def importance_execution(config: dict) -> dict:
    return {"deterministic": config["method"]["deterministic"]}


def allocate(config: dict, reading: str, rho: str, k: str, variant: str) -> dict:
    """The allocation and the reading's allocation rules."""
    opts = readings.of_name(reading)
    kinds = [kind for kind in KINDS if kind in config["method"]["site_kinds"]]  # order of the list is no setting
    return {"pairs": config["pairs"], "rho": rho, "k": k, "variant": variant, "site_kinds": kinds,
            **{o: opts[o] for o in readings.ALLOCATION}}


# ---- evaluation ------------------------------------------------------------------------------


def translate(config: dict, system: str) -> dict:
    """Decoding settings, detruecasing, and for an erasure run which neurons it zeroes."""
    decode = {k: v for k, v in config["decode"].items() if k not in DECODE_EXECUTION and k != "splits"}
    return canonical({"pairs": config["pairs"], "decode": decode, "detruecase": config["preprocess"]["truecase"],
                      "erase": erasure_of(system)})


def translation_recipe(config: dict) -> dict:
    """What translating new text with a trained system takes of the config (``neuralloc
    translate``): the pairs, the preprocessing, the BPE threshold, decoding. (Which systems and
    seeds exist is read from the experiment's folders: asking for more of them changes no result.)"""
    pre = config["preprocess"]
    return canonical({"pairs": config["pairs"], "preprocess": {k: pre[k] for k in ("normalize_punct", "truecase")},
                      "bpe_threshold": config["bpe"]["vocab_threshold"],
                      "decode": {k: v for k, v in config["decode"].items() if k not in DECODE_EXECUTION and k != "splits"}})


def translate_execution(config: dict) -> dict:
    return {k: config["decode"][k] for k in DECODE_EXECUTION}


def score(config: dict, system: str, split: str, seed: int) -> dict:
    return {"system": system, "split": split, "seed": seed, "pairs": config["pairs"]}


def tables(config: dict) -> dict:
    """The tables' layout; the systems whose first-seed hypotheses (pairs inner) and model cards
    the rule's inputs list, in their order."""
    systems = design.table_systems(config)
    return {
        "layout": {name: [[r.system, r.label] for r in rows] for name, rows in design.table_layout(config).items()},
        "pairs": config["pairs"],
        "split": design.reported_split(config),
        "samples": config["sweeps"]["significance_samples"],
        "hypothesis_systems": systems,
        "card_systems": [s for s in systems for _ in design.models_of(s, config["pairs"])],
    }


def claims(config: dict) -> dict:
    """The claims' inputs (tables and figures by name, systems, erasure runs) and the bootstrap's samples."""
    return {"table_names": list(design.table_layout(config)), "figure_names": design.claim_figures(config),
            "systems": design.claim_systems(config), "pairs": config["pairs"],
            "samples": config["sweeps"]["significance_samples"],
            "hypothesis_systems": design.claim_hypothesis_systems(config), "erasure": design.claim_erasure(config),
            "card_models": [f"{model} (seed {seed})" for seed, model in design.trained_models(config)]}


# ---- figures ----------------------------------------------------------------------------------
# Every figure job gets the experiment's pairs (a pair's colour is its place among them) and its
# caption (report/{name}.rst with the config filled in), which its report page shows.


def figure_importance(config: dict) -> dict:
    return {"pairs": config["pairs"], "shown": design.figure_pairs(config), "sites": config["figures"]["importance_sites"],
            "caption": captions.render("importance", config)}


def figure_importance_correlation(config: dict) -> dict:
    return {"pairs": config["pairs"], "caption": captions.render("importance_correlation", config)}


def figure_allocation(config: dict) -> dict:
    return {"pairs": config["pairs"], "captions": {name: captions.render(name, config) for name in ("lscore", "mscore")}}


def figure_k_sweep(config: dict) -> dict:
    return {"points": design.k_sweep_points(config), "reference": design.MULTILINGUAL,
            "caption": captions.render("k_sweep", config)}


def figure_erasure(config: dict) -> dict:
    runs, reference = design.erasure_figure_runs(config)
    return {"runs": runs, "reference": reference, "group": "erased", "ylabel": "ΔBLEU over the intact Method system",
            "pairs": config["pairs"], "caption": captions.render("erasure", config), "title": "Erasure (Figure 5)"}


def figure_variants(config: dict) -> dict:
    return {"runs": design.variant_runs(config), "reference": design.MULTILINGUAL, "group": "allocation",
            "ylabel": "ΔBLEU over Multilingual", "pairs": config["pairs"], "caption": captions.render("variants", config),
            "title": "Allocation variants (Figure 6)"}


def figure_training_curves(config: dict) -> dict:
    return {"models": [design.curve_name(m) for m in design.curve_models(config)], "pairs": config["pairs"],
            "label_smoothing": config["train"]["label_smoothing"], "caption": captions.render("training_curves", config)}


# ---- cluster time limits -------------------------------------------------------------------------
# A job's SLURM time limit (the rule's `runtime`, minutes) grows with its work, so that a job over
# 132 pairs is not given the limit of one over 2. Generous on purpose: a job stopped at its limit
# starts again from scratch (training alone resumes).
SENTENCES_PER_MINUTE = 3000   # beam-4 decoding on one GPU: ~40x below the 2,000 sentences/s aimed for
PAIR_IMPORTANCE_MINUTES = 2   # one pair's pass over its dev set or sample (seconds on a GPU)


def split_sentences(config: dict, split: str) -> int:
    """The sentences a split holds per pair, as far as the config says (held-out sizes; 1,500, the
    larger of IWSLT's test sets, where the corpus fixes them)."""
    opts = config["corpus"].get(config["corpus"]["name"], {})
    return int(opts.get(f"{split}_size", 1500))


def runtime_minutes(config: dict, rule: str, split: str | None = None) -> int:
    """The time limit of a ``translate`` (of ``split``) or ``importance`` job of this config."""
    pairs = len(config["pairs"])
    if rule == "translate":
        work = pairs * split_sentences(config, split) * config["decode"]["beam"] / 4
        return 30 + math.ceil(work / SENTENCES_PER_MINUTE)
    if rule == "importance":
        return 30 + PAIR_IMPORTANCE_MINUTES * pairs
    raise ValueError(f"no time limit rule for {rule!r}")
