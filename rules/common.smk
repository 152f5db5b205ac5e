# Configuration (validated at start-up), paths, and the helper functions the rules call.
import re
import sys

sys.path.insert(0, workflow.basedir)  # the package, even where Snakemake runs outside .venv

from neuralloc.config import ConfigError, experiment_dir, validate
from neuralloc.corpora import SIDES, SPLITS, download_plan
from neuralloc.languages import Pair, languages_of
from neuralloc.systems import SYSTEM_PATTERN, base_system, erasure_system, expand_systems, parse_method_system


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
DL = config["download"]["dir"]
PAIRS = config["pairs"]
LANGS = languages_of(PAIRS)
TARGET_LANGS = sorted({Pair.parse(p).tgt for p in PAIRS})
PLAN = download_plan(config)
PRE = config["preprocess"]
SYSTEMS = expand_systems(config["systems"], config["method"])


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


def translate_inputs(wildcards):
    """The system's checkpoint (per pair for Individual) and, for a Method system, its masks."""
    if wildcards.system == "individual":
        out = {"checkpoint": f"{EXP}/models/individual/{wildcards.pair}/checkpoint_best.pt"}
    else:
        out = {"checkpoint": f"{EXP}/models/{base_system(wildcards.system)}/checkpoint_best.pt"}
    method = parse_method_system(wildcards.system)
    if method:
        out["masks"] = f"{EXP}/masks/{method['imp']}/r{method['rho']}-k{method['k']}-{method['variant']}.safetensors"
    return out


def erasure_params(wildcards):
    """For an erasure run: which neurons to zero; None for every other system."""
    method = parse_method_system(wildcards.system)
    if not method or "erase" not in method:
        return None
    return {k: method[k] for k in ("erase", "fraction", "seed")}


def erasure_systems():
    """Figure 5: 20% of the general neurons, and 50% of each configured pair's specific neurons."""
    er = config["erasure"]
    if not er["enabled"]:
        return []
    method = expand_systems([er["system"]], config["method"])[0]
    out = []
    for seed in er["seeds"]:
        out.append(erasure_system(method, "general", er["general_fraction"], seed))
        for pair in er["pairs"] or PAIRS:
            out.append(erasure_system(method, pair, er["specific_fraction"], seed))
    return out


def score_targets():
    systems = SYSTEMS + erasure_systems()
    return expand(f"{EXP}/scores/{{system}}.{{split}}.csv", system=systems, split=config["decode"]["splits"])


def all_targets():
    return [f"{EXP}/data/dict.txt"] + encoded_targets() + score_targets()
