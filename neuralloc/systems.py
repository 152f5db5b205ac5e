"""Names of the systems the workflow builds, one vocabulary for rules, tables and figures.

Baselines: ``individual`` (one bilingual model per pair), ``multilingual``, ``continued`` (the
Multilingual model trained further on the fine-tuning schedule, without masks: a control the paper
lacks), ``ts`` (+TS, target-specific attention) and ``adapter`` (+Adapter, per-pair adapters).
A Method system is a pretrained model fine-tuned with the masks of one allocation, named after
it and after the reading of the method it follows (``readings.py``): ``method-te-r0.9-k0.7-pair-paper``
starts from the Multilingual model, ``expansion-te-...`` (+Expansion) from the same architecture
with a wider FFN. The config's shorthands ``method-te``, ``method-av`` and ``expansion`` mean the
configured rho, k, variant and reading.

Each system is trained from one of the *architectures* in ``ARCHITECTURES`` (a ``models/{arch}``
directory built by the pretrain rule); ``model_config_for`` says what each changes in the config's
model section.
"""

from __future__ import annotations

import re
from decimal import Decimal

from . import readings
from .readings import PATTERN as READING_PATTERN

IMPORTANCE = ("te", "av")
VARIANTS = ("pair", "source", "target", "separate")
BASELINES = ("individual", "multilingual", "continued", "ts", "adapter")
SHORTHANDS = ("method-av", "method-te", "expansion")  # the configured allocation, see expand_systems
FAMILY_BASE = {"method": "multilingual", "expansion": "wide"}  # Method family -> the model it starts from
ARCHITECTURES = ("multilingual", "ts", "adapter", "wide")      # what the pretrain rule trains
METHOD_RE = re.compile(
    rf"(?P<family>{'|'.join(FAMILY_BASE)})-(?P<imp>{'|'.join(IMPORTANCE)})-r(?P<rho>[0-9.]+)-k(?P<k>[0-9.]+)"
    rf"-(?P<variant>{'|'.join(VARIANTS)})-(?P<reading>{READING_PATTERN})"
    # Erasure (Figure 5): the Method system translating with some neurons zeroed.
    r"(?:\.erase-(?P<erase>general|[a-z]{2,3}-[a-z]{2,3})-f(?P<fraction>[0-9.]+)-s(?P<seed>[0-9]+))?"
)
# The same without named groups, for Snakemake's wildcard constraints.
SYSTEM_PATTERN = "|".join(BASELINES) + "|" + re.sub(r"\(\?P<\w+>", "(", METHOD_RE.pattern)
LABELS = {"individual": "Individual", "multilingual": "Multilingual", "continued": "Multilingual (continued)",
          "ts": "+TS", "adapter": "+Adapter"}


def number(x: float) -> str:
    """0.9 -> '0.9', 1.0 -> '1', 1e-7 -> '0.0000001': the spelling of rho and k in file names
    (plain decimals, never an exponent, which the names' pattern would reject)."""
    return format(Decimal(repr(float(x))).normalize(), "f")


def method_system(imp: str, rho: float, k: float, variant: str, reading: str = "paper", family: str = "method") -> str:
    return f"{family}-{imp}-r{number(rho)}-k{number(k)}-{variant}-{reading}"


def parse_method_system(name: str) -> dict | None:
    """family, imp, rho, k, variant of a Method system (and erase, fraction, seed for an erasure run)."""
    m = METHOD_RE.fullmatch(name)
    if not m:
        return None
    return {k: v for k, v in m.groupdict().items() if v is not None}


def erasure_system(method: str, erase: str, fraction: float, seed: int) -> str:
    """``erase`` is "general" or the pair whose specific neurons are zeroed."""
    return f"{method}.erase-{erase}-f{number(fraction)}-s{seed}"


def erasure_of(name: str) -> dict | None:
    """{"erase", "fraction", "seed"} of an erasure run's name, None for any other system."""
    method = parse_method_system(name)
    return {k: method[k] for k in ("erase", "fraction", "seed")} if method and "erase" in method else None


def base_system(name: str) -> str:
    """The trained system behind a name (an erasure run's Method system)."""
    return name.split(".erase-")[0]


def label(system: str) -> str:
    """The row name of a system in the paper's main table."""
    if system in LABELS:
        return LABELS[system]
    m = parse_method_system(system)
    if m is None:
        raise ValueError(f"unknown system {system!r}")
    return "+Expansion" if m["family"] == "expansion" else f"Method-{m['imp'].upper()}"


def expand_systems(systems: list[str], method: dict) -> list[str]:
    """Config shorthand (``method-te``, ``expansion``) -> full system names."""
    reading = readings.name(readings.options(method))
    out = []
    for s in systems:
        if s not in BASELINES + SHORTHANDS:
            raise ValueError(f"unknown system {s!r} (allowed: {', '.join(BASELINES + SHORTHANDS)})")
        if s in ("method-te", "method-av"):
            out.append(method_system(s.split("-")[1], method["rho"], method["k"], method["variant"], reading))
        elif s == "expansion":
            out.append(method_system("te", method["rho"], method["k"], method["variant"], reading, "expansion"))
        else:
            out.append(s)
    return out


# the model settings that draw random numbers in training (a compiled step draws them its own way)
DROPOUTS = ("dropout", "attention_dropout", "activation_dropout")


def has_dropout(model: dict) -> bool:
    return any(model.get(k) for k in DROPOUTS)


def model_config_for(arch: str, model: dict, baselines: dict, pairs: list[str]) -> dict:
    """The model section of the config as an architecture changes it."""
    if arch == "ts":
        return {**model, "target_specific_attention": True, "route_pairs": list(pairs)}
    if arch == "adapter":
        return {**model, "adapter_dim": baselines["adapter_dim"], "route_pairs": list(pairs)}
    if arch == "wide":
        return {**model, "ffn_dim": baselines["expansion_ffn_dim"]}
    if arch in ("multilingual", "individual"):
        return dict(model)
    raise ValueError(f"unknown architecture {arch!r}; known: {ARCHITECTURES}")
