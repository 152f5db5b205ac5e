# The validated config, wildcard constraints, and the input functions and target lists of the
# rules. Paths come from neuralloc.layout, what to build from neuralloc.design, and what each job's
# outputs depend on (its params) from neuralloc.settings.
import os
import re
import sys

sys.path.insert(0, workflow.basedir)  # the package, even where Snakemake runs outside .venv
from neuralloc import design, layout, readings, settings
from neuralloc.logs import workflow_environment
from neuralloc.config import ConfigError, deep_update, in_place_notice, typed_overrides, validate
from neuralloc.corpora import SIDES, SPLITS, download_plan, text_keys
from neuralloc.languages import Pair, languages_of
# jobs side by side share the console: no progress bars, only warnings and a line per finished
# model reach it; each job's log file gets the rest (neuralloc/logs.py)
for _key, _value in workflow_environment().items():
    os.environ.setdefault(_key, _value)

from neuralloc.systems import (
    ARCHITECTURES, FAMILY_BASE, IMPORTANCE, SYSTEM_PATTERN, VARIANTS, parse_method_system,
)


# config.yaml is the embedded default; a --configfile replaces it rather than being merged
# into it, so a named experiment never inherits the demo's sizes.
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


try:
    # --config values, typed as the schema says (Snakemake hands nested ones over as strings)
    deep_update(config, typed_overrides(workflow.config_settings.config))
    _validated = validate(config)
except ConfigError as e:
    raise WorkflowError(str(e))
config.clear()
config.update(_validated)

EXP = layout.experiment(config)
_notice = in_place_notice(workflow.config_settings.config, config["experiment"], EXP, os.path.isdir(EXP))
if _notice:
    print(_notice, file=sys.stderr)
RUN = layout.run(EXP, "{seed}")  # everything trained: one tree per training seed
SEEDS = config["seeds"]
FIRST = layout.run(EXP, SEEDS[0])  # per-model figures and the significance test use the first seed
DL = config["download"]["dir"]
PAIRS = config["pairs"]
LANGS = languages_of(PAIRS)
PLAN = download_plan(config)
SPLIT = design.reported_split(config)  # the split tables and figures report


wildcard_constraints:
    pair="|".join(map(re.escape, PAIRS)),
    split="|".join(SPLITS),
    lang="|".join(LANGS),
    file="|".join(map(re.escape, PLAN)),
    system=SYSTEM_PATTERN,
    imp="|".join(IMPORTANCE),
    rho=r"[0-9.]+",
    k=r"[0-9.]+",
    variant="|".join(VARIANTS),
    reading="|".join(map(re.escape, readings.of_config(config["method"], config["sweeps"]))),
    seed=r"[0-9]+",
    arch="|".join(ARCHITECTURES),
    family="|".join(FAMILY_BASE),


# ---- input functions and params (named functions, no lambdas in rules) ----------------------------


def pair_texts(stage):
    """The two sides of a pair's {split} text at a stage, as an input function."""

    def inputs(wildcards):
        return {side: layout.text(EXP, stage, wildcards.split, wildcards.pair, side) for side in SIDES}

    return inputs


def cased_stage():
    """Text that feeds BPE: truecased when the config asks for it, else tokenized."""
    return "tc" if config["preprocess"]["truecase"] else "tok"


def train_texts_of(lang, stage):
    """Training files of one language at a stage: every side it appears on."""
    out = []
    for name in PAIRS:
        pair = Pair.parse(name)
        out += [layout.text(EXP, stage, "train", name, side) for side, l in zip(SIDES, (pair.src, pair.tgt)) if l == lang]
    return out


def truecaser_inputs(wildcards):
    return train_texts_of(wildcards.lang, "tok")


def truecase_models(wildcards):
    pair = Pair.parse(wildcards.pair)
    return {"src_model": layout.truecaser(EXP, pair.src), "tgt_model": layout.truecaser(EXP, pair.tgt)}


def bpe_train_inputs(wildcards):
    """Language -> its training text (the input names are the languages)."""
    return {lang: train_texts_of(lang, cased_stage()) for lang in LANGS}


def bpe_apply_inputs(wildcards):
    pair = Pair.parse(wildcards.pair)
    vocabs = dict(zip(LANGS, rules.learn_bpe.output.vocabs))
    return {**pair_texts(cased_stage())(wildcards), "codes": rules.learn_bpe.output.codes,
            "src_vocab": vocabs[pair.src], "tgt_vocab": vocabs[pair.tgt]}


def arrays(split, pairs, side):
    return [layout.encoded(EXP, split, pair, side) for pair in pairs]


def offsets(splits, pairs):
    """The offsets files beside the arrays a job reads (declared so that the DAG sees them)."""
    return [layout.encoded(EXP, s, p, side, "offsets") for s in splits for p in pairs for side in SIDES]


def training_inputs(wildcards):
    """Encoded train/dev arrays (of one pair for an Individual model, else of all; lists follow the
    settings' pairs) and the raw dev references."""
    pairs = [wildcards.pair] if "pair" in wildcards.keys() else PAIRS
    return {
        "vocab": rules.build_vocab.output[0],
        "train_src": arrays("train", pairs, "src"), "train_tgt": arrays("train", pairs, "tgt"),
        "dev_src": arrays("dev", pairs, "src"), "dev_tgt": arrays("dev", pairs, "tgt"),
        "offsets": offsets(("train", "dev"), pairs),
        "dev_references": [layout.raw(EXP, "dev", p, "tgt") for p in pairs],
    }


def finetune_inputs(wildcards):
    """The pretrained model a fine-tuned system starts from, and its masks."""
    w, arch = wildcards, FAMILY_BASE[wildcards.family]
    run = layout.run(EXP, w.seed)
    return {"init": layout.model_file(run, arch, "checkpoint_best.pt"),
            "masks": layout.masks(run, arch, w.reading, w.imp, w.rho, w.k, w.variant)}


def model_files(system, seed, name):
    """A file of each model a system translates with (one model per pair for Individual)."""
    return design.translation_files(layout.run(EXP, seed), system, PAIRS, name)["checkpoints"]


def translate_inputs(wildcards):
    """The system's checkpoint(s) (one per pair for Individual) and, for a Method system, its masks."""
    return design.translation_files(layout.run(EXP, wildcards.seed), wildcards.system, PAIRS)


def tokenize_settings(wildcards):
    return settings.tokenize(config, wildcards.split, wildcards.pair)


def pretrain_settings(wildcards):
    return settings.pretrain(config, wildcards.arch, int(wildcards.seed))


def individual_settings(wildcards):
    return settings.train_individual(config, wildcards.pair, int(wildcards.seed))


def continue_settings(wildcards):
    return settings.continue_training(config, int(wildcards.seed))


def finetune_settings(wildcards):
    return settings.finetune(config, wildcards.family, int(wildcards.seed))


def importance_inputs(wildcards):
    """The pretrained model and every pair's arrays of the split the reading averages importance
    over (train or dev)."""
    split = readings.of_name(wildcards.reading)["importance_data"]
    arrays = {side: [layout.encoded(EXP, split, pair, side) for pair in PAIRS] for side in SIDES}
    return {"checkpoint": rules.pretrain.output.checkpoint, "vocab": rules.build_vocab.output[0], **arrays,
            "offsets": [layout.encoded(EXP, split, pair, side, "offsets") for pair in PAIRS for side in SIDES]}


def importance_settings(wildcards):
    return settings.importance(config, wildcards.reading, wildcards.imp, int(wildcards.seed))


def allocate_settings(wildcards):
    return settings.allocate(config, wildcards.reading, wildcards.rho, wildcards.k, wildcards.variant)


def importance_runtime(wildcards):
    return settings.runtime_minutes(config, "importance")


def translate_runtime(wildcards):
    return settings.runtime_minutes(config, "translate", wildcards.split)


def translate_settings(wildcards):
    return settings.translate(config, wildcards.system)


def score_settings(wildcards):
    return settings.score(config, wildcards.system, wildcards.split, int(wildcards.seed))


def all_scores(systems):
    """The score files of ``systems`` on the reported split, for every seed."""
    return [layout.scores(layout.run(EXP, seed), s, SPLIT) for seed in SEEDS for s in systems]


def table_inputs(wildcards):
    """Scores of every system and seed; first-seed hypotheses (systems, then pairs, as the tables'
    settings list them) and references for the significance test; the model cards for Para."""
    systems = design.table_systems(config)
    return {
        "scores": all_scores(systems),
        "hypotheses": [layout.translations(FIRST, s, SPLIT, p) for s in systems for p in PAIRS],
        "references": [layout.raw(EXP, SPLIT, p, "tgt") for p in PAIRS],
        "cards": [card for s in systems for card in model_files(s, SEEDS[0], "model.json")],
    }


def claims_inputs(wildcards):
    """The tables' and figures' CSVs the claims read, the first seed's hypotheses (systems, then
    pairs) with the references for the bootstrap of average gains, and the model cards of every
    model behind a table (how each trained)."""
    return {
        "tables": [layout.table(EXP, name, "csv") for name in design.table_layout(config)],
        "figures": [layout.figure(EXP, stem, "csv") for stem in design.claim_figures(config)],
        "hypotheses": [layout.translations(FIRST, s, SPLIT, p) for s in design.claim_hypothesis_systems(config) for p in PAIRS],
        "references": [layout.raw(EXP, SPLIT, p, "tgt") for p in PAIRS],
        "cards": [layout.model_file(layout.run(EXP, seed), m, "model.json") for seed, m in design.trained_models(config)],
    }


def erasure_figure_scores():
    """Figure 5: the erasure runs of the first erasure seed and their intact Method system."""
    runs, reference = design.erasure_figure_runs(config)
    return all_scores([system for _, system in runs] + [reference])


def figure_allocation_counts():
    """The counts of the allocation Figure 3 shows (TE importance, the configured allocation)."""
    a = design.figure_allocation(config)
    return layout.masks(FIRST, "multilingual", a["reading"], a["imp"], a["rho"], a["k"], a["variant"], "counts.csv")


# ---- targets ------------------------------------------------------------------------------------


def table_targets(fmt):
    return [layout.table(EXP, name, fmt) for name in design.table_layout(config)]


def curve_figures(fmt):
    return [layout.figure(EXP, f"training_curves_{design.curve_name(m)}", fmt) for m in design.curve_models(config)]


def run_targets():
    """What the run trees hold for the scored systems, every seed: the models (with the pretrained
    model a fine-tuned one starts from), importance, masks and counts, translations. Targets, so
    that a deleted one is rebuilt (and what depends on it reruns after it): Snakemake rebuilds a
    missing file only when it is a target or a job that needs it runs, so a deleted masks file
    whose consumers are newer would stay missing. (The text stages' files are not: tok/ or bpe/
    deleted to free space would otherwise retrain everything; name one as a target to rebuild it.)"""
    out = []
    for seed in SEEDS:
        run = layout.run(EXP, seed)
        for system in design.scored_systems(config):
            models = design.models_of(system, PAIRS)
            m = parse_method_system(system)
            if m:
                arch = FAMILY_BASE[m["family"]]
                models = [arch, *models]
                out += [layout.masks(run, arch, m["reading"], m["imp"], m["rho"], m["k"], m["variant"], ext)
                        for ext in ("safetensors", "counts.csv", "counts.json")]
                out += [layout.importance(run, arch, m["reading"], m["imp"], pair) for pair in PAIRS]
            out += [layout.model_file(run, model, name) for model in models
                    for name in ("checkpoint_best.pt", "model.json", "train_log.csv")]
            out += [layout.translations(run, system, split, pair) for split in config["decode"]["splits"] for pair in PAIRS]
    return list(dict.fromkeys(out))


def all_targets():
    data = [layout.encoded(EXP, s, p, side, kind) for s in SPLITS for p in PAIRS for side in SIDES for kind in ("tokens", "offsets")]
    evaluated = [layout.scores(layout.run(EXP, seed), s, split) for seed in SEEDS for s in design.scored_systems(config)
                 for split in config["decode"]["splits"]]
    tables = [path for fmt in ("csv", "md", "tex", "html") for path in table_targets(fmt)]
    tables += [layout.table(EXP, "claims", fmt) for fmt in ("csv", "md", "html")]
    figures = [layout.figure(EXP, stem, fmt) for stem in design.figure_stems(config) for fmt in design.FIGURE_FORMATS]
    return [rules.build_vocab.output[0], rules.translation_recipe.output[0]] + data + run_targets() + evaluated + tables + figures
