"""Neuron allocation (Section 3.2, Appendix A): general and language-specific neurons per site.

For each site of width W, with units u (pairs, source languages or target languages, by variant)
and their importance Θ_u (a language's importance is the mean over its pairs):

- I(i) = mean_u Θ_u(i); the floor(ρ·W) neurons with the largest I are *general*;
- every other neuron i serves each unit u with Θ_u(i) >= k · max_u' Θ_u'(i) (Eq. 9).

A pair's mask is true on the general neurons and on the specific neurons of its unit.

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
from safetensors.numpy import save_file

from .fileio import atomic_open, atomic_path
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


def allocate_site(theta: np.ndarray, rho: float, k: float, threshold: str = "ge") -> tuple[np.ndarray, np.ndarray]:
    """``theta``: (units, W) importance. Returns (general bool[W], specific bool[units, W]).
    ``threshold`` "ge": a unit whose importance reaches k · max (the paper's Eq. 9); "gt": exceeds
    it (the released code; k = 1 then gives no specific neurons)."""
    units, width = theta.shape
    mean = theta.mean(axis=0)
    n_general = math.floor(rho * width + 1e-9)
    general = np.zeros(width, dtype=bool)
    general[np.argsort(-mean, kind="stable")[:n_general]] = True
    bound = k * theta.max(axis=0)[None, :]
    specific = (theta >= bound if threshold == "ge" else theta > bound) & ~general[None, :]
    return general, specific


def allocate(importance: dict[str, dict[str, np.ndarray]], pairs: list[str], rho: float, k: float,
             variant: str, site_kinds=KINDS, threshold: str = "ge",
             shared: set[str] = frozenset()) -> tuple[dict[str, np.ndarray], dict[str, dict[str, np.ndarray]]]:
    """importance: pair -> site -> vector. Returns (site -> general mask, pair -> site -> mask).
    Sites of kinds not in ``site_kinds``, and the sites in ``shared``, are left wholly general
    (shared by every pair)."""
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
        units = sorted({unit_of(p, site, variant) for p in pairs})
        theta = np.stack([np.mean([importance[p][site] for p in pairs if unit_of(p, site, variant) == u], axis=0)
                          for u in units])
        general, specific = allocate_site(theta, rho, k, threshold)
        general_masks[site] = general
        for p in pairs:
            pair_masks[p][site] = general | specific[units.index(unit_of(p, site, variant))]
    return general_masks, pair_masks


def read_importance(paths: list[str | Path], pairs: list[str]) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, str]]:
    """pair -> site -> vector from one importance file per pair (``paths`` follow ``pairs``), and
    their common metadata. The files must come from one importance method and one checkpoint, and
    give every site one width."""
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
    for key in ("method", "checkpoint_sha256"):
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
    """The masks (``general/{site}`` and ``{pair}/{site}`` bool vectors) and their per-site counts."""
    tensors = {f"general/{s}": g for s, g in general.items()}
    for pair, sites in masks.items():
        tensors.update({f"{pair}/{s}": m for s, m in sites.items()})
    with atomic_path(out) as tmp:
        save_file(tensors, str(tmp), metadata={k: str(v) for k, v in metadata.items()})
    rows = mask_counts(general, masks)
    with atomic_open(counts_csv) as f:
        w = csv.DictWriter(f, ["site", "pair", "width", "general", "specific"])
        w.writeheader()
        w.writerows(rows)
    with atomic_open(counts_json) as f:
        json.dump({"metadata": metadata, "counts": rows}, f, indent=1)


def run_allocation(importance: list[str], pairs: list[str], rho: float, k: float, variant: str, site_kinds: list[str],
                   masks: str, counts_csv: str, counts_json: str, threshold: str = "ge",
                   first_layer_qkv: str = "masked") -> None:
    """Entry point of the allocate rule (and of the CLI): ``importance`` holds one file per pair;
    ``threshold`` and ``first_layer_qkv`` as ``readings.OPTIONS`` describe them."""
    unknown = set(site_kinds) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown site kinds {sorted(unknown)} (allowed: {', '.join(KINDS)})")
    vectors, meta = read_importance(importance, pairs)
    shared = readings.shared_sites(list(vectors[pairs[0]]), first_layer_qkv)
    general, pair_masks = allocate(vectors, pairs, float(rho), float(k), variant, site_kinds, threshold, shared)
    metadata = {"rho": rho, "k": k, "variant": variant, "pairs": ",".join(pairs), "site_kinds": ",".join(site_kinds),
                "threshold": threshold, "first_layer_qkv": first_layer_qkv,
                "method": meta.get("method", ""), "checkpoint_sha256": meta.get("checkpoint_sha256", "")}
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
    p.add_argument("--out", required=True, help="output masks (X.safetensors); counts go beside it (X.counts.csv, .json)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    stem = args.out.removesuffix(".safetensors")
    try:
        run_allocation(args.importance, [x for x in args.pairs.split(",") if x], args.rho, args.k, args.variant,
                       [x for x in args.site_kinds.split(",") if x], args.out, f"{stem}.counts.csv", f"{stem}.counts.json",
                       args.threshold, args.first_layer_qkv)
    except (FileNotFoundError, ValueError) as e:
        sys.exit(f"error: {e}")


if __name__ == "__main__":
    main()
