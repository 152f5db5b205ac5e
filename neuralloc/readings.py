"""Two readings of the method: the paper's text, and the authors' released code (ictnlp/NA-MNMT),
which differ in nine places (docs/method.md cites both). A *reading* is one value of each option;
``method.follow`` picks the preset the configured options start from, and ``sweeps.follow`` adds
the systems of other presets, so one experiment can show both. Torch-free.

The reading is part of every Method system's name and of its importance and masks paths
(``paper``, ``code``, or, for a mix of options, ``x`` and each option's value index in the order of
``OPTIONS``, e.g. ``x000000001``).
"""

from __future__ import annotations

from .sites import site_layer, site_projection

# option -> its values; the first is the paper's
OPTIONS = {
    "importance_data": ("train", "dev"),                    # whose tokens importance is averaged over
    "importance_loss": ("label_smoothed", "nll"),           # the loss TE differentiates
    "importance_norm": ("token_mean", "batch_mean_sum"),    # mean over real tokens / sum of per-batch means, padding included
    "importance_batches": ("by_length", "fairseq"),         # one pair sorted by length / fairseq 0.9's round-robin batches
    "first_layer_qkv": ("masked", "shared"),                # the first layers' attention q, k, v: allocated, or shared by all
    "general_count": ("floor", "int"),                      # general neurons: floor(ρW + 1e-9) / int(W·ρ)
    "general_ties": ("stable", "topk"),                     # ties at the ρ cut: lower index first / as torch.topk breaks them
    "threshold": ("ge", "gt"),                              # Eq. 9: Θ ≥ k·max, or Θ > k·max
    "threshold_rounding": ("float32", "float64"),           # k·max in float32 / in double, then rounded to float32
}
# the options the allocate job uses; the others are the importance job's
ALLOCATION = ("first_layer_qkv", "general_count", "general_ties", "threshold", "threshold_rounding")
PRESETS = {
    "paper": {"options": {name: values[0] for name, values in OPTIONS.items()}, "rho": 0.9, "k": 0.7},
    "released-code": {"options": {name: values[1] for name, values in OPTIONS.items()}, "rho": 0.7, "k": 0.9},
}
SHORT = {"paper": "paper", "released-code": "code"}  # a preset's name in file and system names
PATTERN = "paper|code|x" + "".join(f"[0-{len(v) - 1}]" for v in OPTIONS.values())  # every reading's name
LABELS = {"paper": "paper", "code": "released code"}


def options(method: dict) -> dict[str, str]:
    """The configured reading's options: preset ``method.follow``, overridden by the options the
    config sets."""
    preset = PRESETS[method["follow"]]["options"]
    return {name: method.get(name) or preset[name] for name in OPTIONS}


def name(opts: dict[str, str]) -> str:
    """``paper``, ``code``, or a mix spelled ``x`` + the index of each option's value."""
    for preset, spec in PRESETS.items():
        if opts == spec["options"]:
            return SHORT[preset]
    return "x" + "".join(str(OPTIONS[o].index(opts[o])) for o in OPTIONS)


def of_name(reading: str) -> dict[str, str]:
    """The options a reading's name stands for."""
    for preset, short in SHORT.items():
        if reading == short:
            return dict(PRESETS[preset]["options"])
    return {o: OPTIONS[o][int(i)] for o, i in zip(OPTIONS, reading[1:], strict=True)}


def of_config(method: dict, sweeps: dict) -> list[str]:
    """The readings an experiment runs: the configured one first, then those of ``sweeps.follow``."""
    out = [name(options(method))] + [SHORT[f] for f in sweeps.get("follow", [])]
    return list(dict.fromkeys(out))


def label(reading: str) -> str:
    return LABELS.get(reading, f"mixed ({reading})")


def defaults(follow: str) -> tuple[float, float]:
    """(rho, k) of a preset."""
    return PRESETS[follow]["rho"], PRESETS[follow]["k"]


def shared_sites(sites: list[str], first_layer_qkv: str) -> set[str]:
    """Sites whose neurons every pair keeps: with ``first_layer_qkv`` "shared", the q, k and v of the
    first encoder and decoder layer's attention (self and cross), as the released code leaves them."""
    if first_layer_qkv != "shared":
        return set()
    return {s for s in sites if site_layer(s) == 0 and site_projection(s) in ("q", "k", "v")}

