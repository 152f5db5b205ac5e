# Configuration (validated at start-up), paths, and the helper functions the rules call.
import os
import re
import sys

sys.path.insert(0, workflow.basedir)  # the package, even where Snakemake runs outside .venv

from neuralloc.config import ConfigError, experiment_dir, training_settings, validate
from neuralloc.corpora import SIDES, SPLITS, download_plan
from neuralloc.languages import Pair, languages_of
from neuralloc.systems import (
    ARCHITECTURES, FAMILY_BASE, SYSTEM_PATTERN, base_system, erasure_system, expand_systems, model_config_for,
    number, parse_method_system,
)
from neuralloc.tables import table_layout


# config.yaml is the embedded default; a --configfile replaces it rather than being merged
# into it, so a named experiment never inherits the demo's sizes.
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


try:
    _validated = validate(config)
except ConfigError as e:
    raise WorkflowError(str(e))
config.clear()
config.update(_validated)

EXP = experiment_dir(config)
RUN = f"{EXP}/seed{{seed}}"  # everything trained: one tree per training seed
SEEDS = config["seeds"]
DL = config["download"]["dir"]
PAIRS = config["pairs"]
LANGS = languages_of(PAIRS)
TARGET_LANGS = sorted({Pair.parse(p).tgt for p in PAIRS})
PLAN = download_plan(config)
PRE = config["preprocess"]
SYSTEMS = expand_systems(config["systems"], config["method"])
TABLE_LAYOUT = table_layout(SYSTEMS, config["method"], config["sweeps"])
TABLE_SPLIT = config["decode"]["splits"][-1]  # the split tables and figures report
FIRST = RUN.format(seed=SEEDS[0])  # per-model figures and the significance test use the first seed


wildcard_constraints:
    pair="|".join(map(re.escape, PAIRS)),
    split="|".join(SPLITS),
    lang="|".join(LANGS),
    file="|".join(map(re.escape, PLAN)),
    system=SYSTEM_PATTERN,
    imp="te|av",
    rho=r"[0-9.]+",
    k=r"[0-9.]+",
    variant="pair|source|target|separate",
    seed=r"[0-9]+",
    arch="|".join(ARCHITECTURES),
    family="|".join(FAMILY_BASE),


# ---- helpers (named functions, no lambdas in rules) -------------------------------------------


def download_spec(wildcards):
    return PLAN[wildcards.file]


def download_targets():
    return [f"{DL}/{name}" for name in PLAN]


def pair_langs(wildcards):
    pair = Pair.parse(wildcards.pair)
    return [pair.src, pair.tgt]


def length_filter_args(wildcards):
    """Training data is filtered by length; dev and test never are."""
    if wildcards.split != "train":
        return None
    return {k: PRE[k] for k in ("min_tokens", "max_tokens", "max_ratio")}


def cased_dir():
    """Text that feeds BPE: truecased when the config asks for it, else tokenized."""
    return "tc" if PRE["truecase"] else "tok"


def train_texts_of(lang, stage):
    """Training files of one language at a stage (tok, tc or bpe): every side it appears on."""
    out = []
    for name in PAIRS:
        pair = Pair.parse(name)
        for side, side_lang in zip(SIDES, (pair.src, pair.tgt)):
            if side_lang == lang:
                out.append(f"{EXP}/{stage}/train.{name}.{side}")
    return out


def truecaser_inputs(wildcards):
    return train_texts_of(wildcards.lang, "tok")


def truecase_models(wildcards):
    src, tgt = pair_langs(wildcards)
    return {"src_model": f"{EXP}/truecase/{src}.model", "tgt_model": f"{EXP}/truecase/{tgt}.model"}


def bpe_inputs_by_lang():
    return {lang: train_texts_of(lang, cased_dir()) for lang in LANGS}


def bpe_train_inputs():
    return sorted({p for paths in bpe_inputs_by_lang().values() for p in paths})


def bpe_vocab_paths():
    return {lang: f"{EXP}/bpe/vocab.{lang}" for lang in LANGS}


def bpe_apply_inputs(wildcards):
    src, tgt = pair_langs(wildcards)
    stage = cased_dir()
    return {
        "src": f"{EXP}/{stage}/{wildcards.split}.{wildcards.pair}.src",
        "tgt": f"{EXP}/{stage}/{wildcards.split}.{wildcards.pair}.tgt",
        "codes": f"{EXP}/bpe/codes",
        "src_vocab": f"{EXP}/bpe/vocab.{src}",
        "tgt_vocab": f"{EXP}/bpe/vocab.{tgt}",
    }


def encoded_prefixes(wildcards):
    return [f"{EXP}/data/{wildcards.split}.{wildcards.pair}.{side}" for side in SIDES]


def encoded_targets():
    return expand(
        f"{EXP}/data/{{split}}.{{pair}}.{{side}}.{{kind}}.npy",
        split=SPLITS, pair=PAIRS, side=SIDES, kind=("tokens", "offsets"),
    )


def training_inputs(wildcards):
    """Encoded train/dev arrays (of one pair for an Individual model, else of all) and dev references."""
    pairs = individual_pairs(wildcards)
    return {
        "vocab": f"{EXP}/data/dict.txt",
        "arrays": expand(f"{EXP}/data/{{split}}.{{pair}}.{{side}}.{{kind}}.npy", split=("train", "dev"),
                         pair=pairs, side=SIDES, kind=("tokens", "offsets")),
        "dev_refs": expand(f"{EXP}/raw/dev.{{pair}}.tgt", pair=pairs),
    }


def individual_pairs(wildcards):
    """The pairs a model trains on: its own pair for an Individual model, all for the rest."""
    return [wildcards.pair] if "pair" in wildcards.keys() else PAIRS


def train_params(wildcards):
    """The train section with the run's seed (and the individual overrides for an Individual model)."""
    extra = config["individual"] if "pair" in wildcards.keys() else {}
    return {**training_settings(config["train"]), **extra, "seed": int(wildcards.seed)}


def model_params(wildcards):
    """The model section as the architecture being trained changes it (+TS, +Adapter, +Expansion)."""
    arch = wildcards.get("arch") or FAMILY_BASE.get(wildcards.get("family"), "multilingual")
    return model_config_for(arch, config["model"], config["baselines"], PAIRS)


def run_dir(wildcards):
    return RUN.format(seed=wildcards.seed)


def masks_stem(run, arch, imp, rho, k, variant):
    """Where the allocate rule writes one allocation (.safetensors, .counts.csv, .counts.json)."""
    return f"{run}/masks/{arch}/{imp}/r{rho}-k{k}-{variant}"


def finetune_inputs(wildcards):
    """The pretrained model a fine-tuned system starts from, and its masks."""
    w, arch = wildcards, FAMILY_BASE[wildcards.family]
    return {
        "init": f"{run_dir(w)}/models/{arch}/checkpoint_best.pt",
        "masks": masks_stem(run_dir(w), arch, w.imp, w.rho, w.k, w.variant) + ".safetensors",
    }


def model_dirs(system, seed):
    """The directories of the model(s) a system translates with (one per pair for Individual)."""
    run = RUN.format(seed=seed)
    system = base_system(system)
    if system == "individual":
        return [f"{run}/models/individual/{pair}" for pair in PAIRS]
    return [f"{run}/models/{system}"]


def translate_inputs(wildcards):
    """The system's checkpoint(s) (one per pair for Individual) and, for a Method system, its masks."""
    out = {"checkpoints": [f"{d}/checkpoint_best.pt" for d in model_dirs(wildcards.system, wildcards.seed)]}
    method = parse_method_system(wildcards.system)
    if method:
        m = method
        out["masks"] = masks_stem(run_dir(wildcards), FAMILY_BASE[m["family"]], m["imp"], m["rho"], m["k"], m["variant"])
        out["masks"] += ".safetensors"
    return out


def erasure_params(wildcards):
    """For an erasure run: which neurons to zero; None for every other system."""
    method = parse_method_system(wildcards.system)
    if not method or "erase" not in method:
        return None
    return {k: method[k] for k in ("erase", "fraction", "seed")}


def erasure_runs(seed):
    """[label, system] of the erasure runs of one erasure seed (Figure 5): 20% of the general
    neurons, and 50% of each configured pair's specific neurons."""
    er = config["erasure"]
    method = expand_systems([er["system"]], config["method"])[0]
    runs = [[f"general {100 * er['general_fraction']:g}%", erasure_system(method, "general", er["general_fraction"], seed)]]
    for pair in er["pairs"] or PAIRS:
        runs.append([f"{pair} specific {100 * er['specific_fraction']:g}%",
                     erasure_system(method, pair, er["specific_fraction"], seed)])
    return runs


def erasure_systems():
    er = config["erasure"]
    return [system for seed in er["seeds"] for _, system in erasure_runs(seed)] if er["enabled"] else []


def table_systems():
    """Every system a table reports, and Multilingual, the reference of every gain."""
    systems = [r.system for rows in TABLE_LAYOUT.values() for r in rows]
    return list(dict.fromkeys(systems + ["multilingual"]))


def score_targets():
    systems = table_systems() + erasure_systems()
    return expand(f"{RUN}/scores/{{system}}.{{split}}.csv", seed=SEEDS, system=systems, split=config["decode"]["splits"])


def table_inputs(wildcards):
    """Scores of every system and seed; hypotheses of the first seed and the references for the
    significance test; the model cards for Para."""
    systems = table_systems()
    return {
        "scores": all_scores(systems),
        "hypotheses": expand(f"{FIRST}/translations/{{system}}/{TABLE_SPLIT}.{{pair}}.txt", system=systems, pair=PAIRS),
        "references": expand(f"{EXP}/raw/{TABLE_SPLIT}.{{pair}}.tgt", pair=PAIRS),
        "cards": sorted({f"{d}/model.json" for s in systems for d in model_dirs(s, SEEDS[0])}),
    }


def table_targets(fmt=None):
    return expand(f"{EXP}/tables/{{table}}.{{fmt}}", table=TABLE_LAYOUT, fmt=[fmt] if fmt else ("csv", "md", "tex"))


def all_targets():
    return [f"{EXP}/data/dict.txt"] + encoded_targets() + score_targets() + table_targets() + figure_targets()


# ---- figures ------------------------------------------------------------------------------------
FIG = f"{EXP}/figures"


def figure_pairs():
    return config["figures"]["importance_pairs"] or PAIRS[:3]


def method_masks_counts():
    """The mask counts of the configured TE allocation (Figure 3)."""
    m = config["method"]
    return masks_stem(FIRST, "multilingual", "te", number(m["rho"]), number(m["k"]), m["variant"]) + ".counts.csv"


def all_scores(systems):
    """The score files of ``systems`` on the reported split, for every seed."""
    return expand(f"{RUN}/scores/{{system}}.{TABLE_SPLIT}.csv", seed=SEEDS, system=systems)


def k_sweep_points():
    """[importance, k, system] of the k table's rows (Figure 4)."""
    points = []
    for row in TABLE_LAYOUT.get("k", []):
        m = parse_method_system(row.system)
        points.append([m["imp"], float(m["k"]), row.system])
    return points


def k_sweep_inputs(wildcards):
    return all_scores([p[2] for p in k_sweep_points()] + ["multilingual"])


def erasure_inputs(wildcards):
    runs = erasure_runs(config["erasure"]["seeds"][0])
    return all_scores([r[1] for r in runs] + [base_system(runs[0][1])])


def variant_runs():
    """[label, system] of the variants table's rows (Figure 6)."""
    return [[row.label, row.system] for row in TABLE_LAYOUT.get("variants", [])]


def variants_inputs(wildcards):
    return all_scores([r[1] for r in variant_runs()] + ["multilingual"])


def curve_models():
    """Name -> model directory (first seed) of every model behind a main-table system."""
    out = {}
    for system in SYSTEMS:
        for d in model_dirs(system, SEEDS[0]):
            out[os.path.relpath(d, f"{FIRST}/models").replace(os.sep, "-")] = d
    return out


def figure_targets():
    stems = ["importance", "importance_correlation", "lscore", "mscore"]
    stems += [f"training_curves_{m}" for m in curve_models()]
    if config["sweeps"]["k"]:
        stems.append("k_sweep")
    if config["sweeps"]["variants"]:
        stems.append("variants")
    if config["erasure"]["enabled"]:
        stems.append("erasure")
    return expand(f"{FIG}/{{stem}}.{{fmt}}", stem=stems, fmt=("png", "pdf"))
