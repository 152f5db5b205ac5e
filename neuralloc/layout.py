"""The file layout of an experiment, spelled once.

The rules declare their files with these functions (passing wildcards such as ``"{pair}"`` to get
patterns), and tools outside the workflow (``bench/``, the tests) find files with them. The rules'
entry points never use them: they take the paths a rule declares.

    results/{experiment}/                     exp: raw/, tok/, tc/, bpe/, data/, tables/, figures/
    results/{experiment}/seed{N}/             run: models/, importance/, masks/, translations/, scores/
"""

from __future__ import annotations


def experiment(config: dict) -> str:
    return f"{config['results_dir']}/{config['experiment']}"


def run(exp: str, seed) -> str:
    """Everything trained: one tree per training seed."""
    return f"{exp}/seed{seed}"


def download(downloads: str, name: str) -> str:
    """A corpus file in the download cache (shared by experiments), by its ``download_plan`` name."""
    return f"{downloads}/{name}"


def raw(exp: str, split: str, pair: str, side: str) -> str:
    return f"{exp}/raw/{split}.{pair}.{side}"


def manifest(exp: str) -> str:
    return f"{exp}/raw/manifest.json"


def text(exp: str, stage: str, split: str, pair: str, side: str) -> str:
    """Text of a pair at a stage: ``tok`` (tokenized), ``tc`` (truecased), ``bpe``."""
    return f"{exp}/{stage}/{split}.{pair}.{side}"


def translation_recipe(exp: str) -> str:
    """What ``neuralloc translate`` needs of the experiment's config (written by the workflow)."""
    return f"{exp}/translate.json"


def truecaser(exp: str, lang: str) -> str:
    return f"{exp}/truecase/{lang}.model"


def bpe_codes(exp: str) -> str:
    return f"{exp}/bpe/codes"


def bpe_vocab(exp: str, lang: str) -> str:
    return f"{exp}/bpe/vocab.{lang}"


def vocab(exp: str) -> str:
    return f"{exp}/data/dict.txt"


def encoded(exp: str, split: str, pair: str, side: str, kind: str = "tokens") -> str:
    """An encoded array: ``kind`` tokens, or the offsets file beside it."""
    return f"{exp}/data/{split}.{pair}.{side}.{kind}.npy"


def model_dir(run_dir: str, model: str) -> str:
    """A trained model (``multilingual``, ``individual/it-en``, a Method system...)."""
    return f"{run_dir}/models/{model}"


def model_file(run_dir: str, model: str, name: str) -> str:
    """``checkpoint_best.pt``, ``model.json`` or ``train_log.csv`` of a trained model."""
    return f"{model_dir(run_dir, model)}/{name}"


def importance(run_dir: str, arch: str, reading: str, imp: str, pair: str) -> str:
    return f"{run_dir}/importance/{arch}/{reading}/{imp}/{pair}.safetensors"


def masks(run_dir: str, arch: str, reading: str, imp: str, rho: str, k: str, variant: str, ext: str = "safetensors") -> str:
    """One allocation: the masks (``safetensors``) and their per-site counts (``counts.csv``, ``counts.json``)."""
    return f"{run_dir}/masks/{arch}/{reading}/{imp}/r{rho}-k{k}-{variant}.{ext}"


def translations(run_dir: str, system: str, split: str, pair: str) -> str:
    return f"{run_dir}/translations/{system}/{split}.{pair}.txt"


def scores(run_dir: str, system: str, split: str) -> str:
    return f"{run_dir}/scores/{system}.{split}.csv"


def table(exp: str, name: str, fmt: str) -> str:
    return f"{exp}/tables/{name}.{fmt}"


def figure(exp: str, stem: str, fmt: str) -> str:
    return f"{exp}/figures/{stem}.{fmt}"
