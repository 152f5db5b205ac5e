"""Neuron allocation (Section 3.2, Appendix A): general and language-specific neurons per site.

For each site of width W, with units u (pairs, source languages or target languages, by variant)
and their importance Θ_u (a language's importance is the mean over its pairs):

- I(i) = mean_u Θ_u(i); the floor(ρ·W) neurons with the largest I are *general*;
- every other neuron i serves each unit u with Θ_u(i) >= k · max_u' Θ_u'(i) (Eq. 9).

A pair's mask is true on the general neurons and on the specific neurons of its unit. The released
code's edge rules (``readings.OPTIONS``: ``general_count``, ``general_ties``, ``threshold``,
``threshold_rounding``) are options: int(W·ρ) general neurons, ranked by torch.topk of the float32
sum over units, and Θ > k · max with k · max computed in double and compared in float32.

    python -m neuralloc.allocate --pairs it-en,en-it --importance it-en.safetensors en-it.safetensors \\
        --rho 0.9 --k 0.7 --variant pair --out masks.safetensors
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import sys
from pathlib import Path

import numpy as np
from safetensors import safe_open

from .fileio import atomic_open, write_safetensors
from .languages import Pair
from . import readings
from .sites import KINDS, site_kind, site_side
from .systems import VARIANTS

log = logging.getLogger(__name__)


def unit_of(pair: str, site: str, variant: str) -> str:
    """The allocation unit a pair belongs to at a site."""
    p = Pair.parse(pair)
    if variant == "pair":
        return pair
    if variant == "source" or (variant == "separate" and site_side(site) == "encoder"):
        return p.src
    if variant in ("target", "separate"):
        return p.tgt
    raise ValueError(f"unknown allocation variant {variant!r} (allowed: {', '.join(VARIANTS)})")


def n_general(width: int, rho: float, count: str = "floor") -> int:
    """How many of a site's ``width`` neurons are general. "floor": floor(ρ·W), forgiving binary
    rounding (0.7 · 90 = 62.99999999999999 gives 63); "int": Python's int(W · ρ) (62), as the
    released code (``importance_mask.py:109``)."""
    if count == "int":
        return int(width * rho)
    if count != "floor":
        raise ValueError(f"unknown general_count {count!r} (allowed: {', '.join(readings.OPTIONS['general_count'])})")
    return math.floor(rho * width + 1e-9)


def general_neurons(theta: np.ndarray, n: int, ties: str = "stable") -> np.ndarray:
    """Indices of the ``n`` general neurons of ``theta`` (units, W). "stable": the largest mean over
    units, a tie going to the lower index; "topk": ``torch.topk`` of the float32 sum over units, as
    the released code (``importance_mask.py:108-109``), ties broken as topk breaks them."""
    if ties == "stable":
        return np.argsort(-theta.mean(axis=0), kind="stable")[:n]
    if ties != "topk":
        raise ValueError(f"unknown general_ties {ties!r} (allowed: {', '.join(readings.OPTIONS['general_ties'])})")
    import torch  # here, not at the top: the CLI's start-up stays light

    total = np.float32(0)
    for row in theta.astype(np.float32):  # Python's sum(): ((0 + Θ_1) + Θ_2) + ..., in float32
        total = total + row
    return torch.topk(torch.from_numpy(np.asarray(total, dtype=np.float32)), n, dim=0).indices.numpy()


def specific_neurons(theta: np.ndarray, k: float, threshold: str = "ge", rounding: str = "float32") -> np.ndarray:
    """bool (units, W): the units each neuron serves by Eq. 9. ``threshold`` "ge": Θ ≥ k · max (the
    paper), "gt": Θ > k · max (the released code). ``rounding`` "float32": k · max in float32;
    "float64": in double, compared with float32 importance, as the released code
    (``importance_mask.py:96-98``: a float32 tensor against a Python float)."""
    if rounding == "float32":
        bound = k * theta.max(axis=0)[None, :]
    elif rounding == "float64":
        theta = theta.astype(np.float32)
        bound = (float(k) * theta.max(axis=0).astype(np.float64)).astype(np.float32)[None, :]
    else:
        raise ValueError(f"unknown threshold_rounding {rounding!r} (allowed: {', '.join(readings.OPTIONS['threshold_rounding'])})")
    return theta >= bound if threshold == "ge" else theta > bound


def allocate_site(theta: np.ndarray, rho: float, k: float, threshold: str = "ge", general_count: str = "floor",
                  general_ties: str = "stable", threshold_rounding: str = "float32") -> tuple[np.ndarray, np.ndarray]:
    """``theta``: (units, W) importance. Returns (general bool[W], specific bool[units, W]); the
    rules as ``n_general``, ``general_neurons`` and ``specific_neurons`` describe them."""
    width = theta.shape[1]
    general = np.zeros(width, dtype=bool)
    general[general_neurons(theta, n_general(width, rho, general_count), general_ties)] = True
    specific = specific_neurons(theta, k, threshold, threshold_rounding) & ~general[None, :]
    return general, specific


def allocate(importance: dict[str, dict[str, np.ndarray]], pairs: list[str], rho: float, k: float,
             variant: str, site_kinds=KINDS, threshold: str = "ge", shared: set[str] = frozenset(),
             **rules: str) -> tuple[dict[str, np.ndarray], dict[str, dict[str, np.ndarray]]]:
    """importance: pair -> site -> vector. Returns (site -> general mask, pair -> site -> mask).
    Sites of kinds not in ``site_kinds``, and the sites in ``shared``, are left wholly general
    (shared by every pair). ``rules``: ``general_count``, ``general_ties``, ``threshold_rounding``
    (``allocate_site``)."""
    if not 0 <= rho <= 1 or not 0 <= k <= 1:
        raise ValueError(f"rho and k must lie in [0, 1], got rho={rho}, k={k}")
    sites = list(importance[pairs[0]])
    general_masks, pair_masks = {}, {p: {} for p in pairs}
    for site in sites:
        if site_kind(site) not in site_kinds or site in shared:
            general_masks[site] = np.ones(importance[pairs[0]][site].size, dtype=bool)
            for p in pairs:
                pair_masks[p][site] = general_masks[site]
            continue
        members: dict[str, list[str]] = {}  # unit -> its pairs, in the order of ``pairs``: linear in pairs
        for p in pairs:
            members.setdefault(unit_of(p, site, variant), []).append(p)
        units = sorted(members)
        theta = np.stack([np.mean([importance[p][site] for p in members[u]], axis=0) for u in units])
        general, specific = allocate_site(theta, rho, k, threshold, **rules)
        general_masks[site] = general
        for row, u in enumerate(units):
            for p in members[u]:
                pair_masks[p][site] = general | specific[row]
    return general_masks, pair_masks


def read_importance(paths: list[str | Path], pairs: list[str]) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, str]]:
    """pair -> site -> vector from one importance file per pair (``paths`` follow ``pairs``), and
    their common metadata. The files must come from one importance method and one model (their
    ``model_digest``), and give every site one width."""
    if len(paths) != len(pairs):
        raise ValueError(f"{len(paths)} importance files for {len(pairs)} pairs ({', '.join(pairs)})")
    out, metas = {}, {}
    for pair, path in zip(pairs, paths):
        if not Path(path).exists():
            raise FileNotFoundError(f"no importance file for pair {pair}: {path}")
        with safe_open(str(path), framework="np") as f:
            out[pair] = {k: f.get_tensor(k) for k in f.keys()}
            metas[pair] = f.metadata() or {}
        if metas[pair].get("pair", pair) != pair:
            raise ValueError(f"{path} holds the importance of {metas[pair]['pair']}, not of {pair}")
    for key in ("method", "model_digest"):
        values = {pair: m.get(key) for pair, m in metas.items()}
        if len(set(values.values())) > 1:
            raise ValueError(f"importance files disagree on their {key}: {values}; recompute them from one checkpoint")
    first = pairs[0]
    for pair in pairs[1:]:
        if set(out[pair]) != set(out[first]):
            diff = sorted(set(out[pair]) ^ set(out[first]))
            raise ValueError(f"importance files of {first} and {pair} cover different sites (e.g. {diff[0]})")
        for site, vector in out[pair].items():
            if vector.shape != out[first][site].shape:
                raise ValueError(f"importance of {pair} at {site} has shape {vector.shape}, that of {first} {out[first][site].shape}")
    return out, metas[first]


def mask_counts(general: dict[str, np.ndarray], masks: dict[str, dict[str, np.ndarray]]) -> list[dict]:
    """One row per site and pair: width, general neurons, the pair's specific neurons."""
    rows = []
    for site, g in general.items():
        for pair, m in masks.items():
            rows.append({"site": site, "pair": pair, "width": int(g.size), "general": int(g.sum()),
                         "specific": int((m[site] & ~g).sum())})
    return rows


def write_masks(out: str | Path, general, masks, metadata: dict, counts_csv: str | Path, counts_json: str | Path) -> None:
    """The masks (``general/{site}`` and ``{pair}/{site}`` bool vectors) and their per-site counts:
    the same bytes at every write of the same masks and metadata."""
    tensors = {f"general/{s}": g for s, g in general.items()}
    for pair, sites in masks.items():
        tensors.update({f"{pair}/{s}": m for s, m in sites.items()})
    write_safetensors(out, tensors, metadata)
    rows = mask_counts(general, masks)
    with atomic_open(counts_csv) as f:
        w = csv.DictWriter(f, ["site", "pair", "width", "general", "specific"])
        w.writeheader()
        w.writerows(rows)
    with atomic_open(counts_json) as f:
        json.dump({"metadata": metadata, "counts": rows}, f, indent=1)


def run_allocation(importance: list[str], pairs: list[str], rho: float, k: float, variant: str, site_kinds: list[str],
                   masks: str, counts_csv: str, counts_json: str, threshold: str = "ge",
                   first_layer_qkv: str = "masked", general_count: str = "floor", general_ties: str = "stable",
                   threshold_rounding: str = "float32") -> None:
    """Entry point of the allocate rule (and of the CLI): ``importance`` holds one file per pair;
    ``threshold``, ``first_layer_qkv``, ``general_count``, ``general_ties`` and ``threshold_rounding``
    as ``readings.OPTIONS`` describe them."""
    unknown = set(site_kinds) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown site kinds {sorted(unknown)} (allowed: {', '.join(KINDS)})")
    vectors, meta = read_importance(importance, pairs)
    shared = readings.shared_sites(list(vectors[pairs[0]]), first_layer_qkv)
    rules = {"general_count": general_count, "general_ties": general_ties, "threshold_rounding": threshold_rounding}
    general, pair_masks = allocate(vectors, pairs, float(rho), float(k), variant, site_kinds, threshold, shared, **rules)
    metadata = {"rho": rho, "k": k, "variant": variant, "pairs": ",".join(pairs), "site_kinds": ",".join(site_kinds),
                "threshold": threshold, "first_layer_qkv": first_layer_qkv, **rules,
                "method": meta.get("method", ""), "model_digest": meta.get("model_digest", "")}
    write_masks(masks, general, pair_masks, metadata, counts_csv, counts_json)
    share = np.mean([g.mean() for g in general.values()])
    log.info("%d sites; %.1f%% general neurons; masks in %s", len(general), 100 * share, masks)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pairs", required=True, help="comma-separated pairs, e.g. it-en,en-it")
    p.add_argument("--importance", required=True, nargs="+", help="one importance file per pair, in the order of --pairs")
    p.add_argument("--rho", type=float, required=True, help="fraction of general neurons per site, in [0, 1]")
    p.add_argument("--k", type=float, required=True, help="threshold factor for specific neurons, in [0, 1]")
    p.add_argument("--variant", choices=VARIANTS, default="pair")
    p.add_argument("--site-kinds", default=",".join(KINDS),
                   help="module kinds whose neurons are allocated (others stay general), default all")
    p.add_argument("--threshold", choices=readings.OPTIONS["threshold"], default="ge",
                   help="Eq. 9: importance >= k * max (the paper) or > k * max (the released code)")
    p.add_argument("--first-layer-qkv", choices=readings.OPTIONS["first_layer_qkv"], default="masked",
                   help="the first layers' attention q, k, v: allocated (the paper) or shared (the released code)")
    p.add_argument("--general-count", choices=readings.OPTIONS["general_count"], default="floor",
                   help="general neurons per site: floor(rho * W + 1e-9) (the paper) or int(W * rho) (the released code)")
    p.add_argument("--general-ties", choices=readings.OPTIONS["general_ties"], default="stable",
                   help="ranking for the general neurons: mean, ties to the lower index (the paper), or torch.topk "
                        "of the float32 sum (the released code)")
    p.add_argument("--threshold-rounding", choices=readings.OPTIONS["threshold_rounding"], default="float32",
                   help="k * max of Eq. 9 in float32 (the paper) or in double, compared in float32 (the released code)")
    p.add_argument("--out", required=True, help="output masks (X.safetensors); counts go beside it (X.counts.csv, .json)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    stem = args.out.removesuffix(".safetensors")
    try:
        run_allocation(args.importance, [x for x in args.pairs.split(",") if x], args.rho, args.k, args.variant,
                       [x for x in args.site_kinds.split(",") if x], args.out, f"{stem}.counts.csv", f"{stem}.counts.json",
                       args.threshold, args.first_layer_qkv, args.general_count, args.general_ties,
                       args.threshold_rounding)
    except (FileNotFoundError, ValueError) as e:
        sys.exit(f"error: {e}")


if __name__ == "__main__":
    main()
