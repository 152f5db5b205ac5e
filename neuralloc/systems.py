"""Names of the systems the workflow builds, one vocabulary for rules, tables and figures.

``individual`` and ``multilingual`` are the baselines; a Method system is the Multilingual model
fine-tuned with the masks of one allocation, named after it: ``method-te-r0.9-k0.7-pair``. The
config's shorthand ``method-te`` means the configured rho, k and variant.
"""

from __future__ import annotations

import re

IMPORTANCE = ("te", "av")
VARIANTS = ("pair", "source", "target", "separate")
METHOD_RE = re.compile(
    r"method-(?P<imp>te|av)-r(?P<rho>[0-9.]+)-k(?P<k>[0-9.]+)-(?P<variant>pair|source|target|separate)"
    # Erasure (Figure 5): the Method system translating with some neurons zeroed.
    r"(?:\.erase-(?P<erase>general|[a-z]{2,3}-[a-z]{2,3})-f(?P<fraction>[0-9.]+)-s(?P<seed>[0-9]+))?"
)
# The same without named groups, for Snakemake's wildcard constraints.
SYSTEM_PATTERN = r"individual|multilingual|" + re.sub(r"\(\?P<\w+>", "(", METHOD_RE.pattern)


def number(x: float) -> str:
    """0.9 -> '0.9', 1.0 -> '1': the spelling of rho and k in file names."""
    return f"{float(x):g}"


def method_system(imp: str, rho: float, k: float, variant: str) -> str:
    return f"method-{imp}-r{number(rho)}-k{number(k)}-{variant}"


def parse_method_system(name: str) -> dict | None:
    """imp, rho, k, variant of a Method system (and erase, fraction, seed for an erasure run)."""
    m = METHOD_RE.fullmatch(name)
    if not m:
        return None
    return {k: v for k, v in m.groupdict().items() if v is not None}


def erasure_system(method: str, erase: str, fraction: float, seed: int) -> str:
    """``erase`` is "general" or the pair whose specific neurons are zeroed."""
    return f"{method}.erase-{erase}-f{number(fraction)}-s{seed}"


def base_system(name: str) -> str:
    """The trained system behind a name (an erasure run's Method system)."""
    return name.split(".erase-")[0]


def expand_systems(systems: list[str], method: dict) -> list[str]:
    """Config shorthand (``method-te``) -> full system names."""
    out = []
    for s in systems:
        if s in ("method-te", "method-av"):
            out.append(method_system(s.split("-")[1], method["rho"], method["k"], method["variant"]))
        else:
            out.append(s)
    return out
