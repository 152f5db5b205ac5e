"""The numbers behind the paper's figures, from artifacts already in the DAG: importance files,
mask counts, score files.

LScore and MScore (Eq. 10 and 11). The paper's text defines Ĩ_l^m as "the number of neurons
allocated to language pair m in the l-th layer" and Ĩ_l as "the total number of the
language-specific neurons in the l-th layer". We read both as counts of *specific* (non-general)
neurons over the layer's neuron sites: Ĩ_l^m = Σ_sites specific(m), Ĩ_l = Σ_sites (width − general),
every non-general neuron being allocated to at least one pair. So LScore(l, m) is the share of
the layer's specific neurons that pair m may use (1 = it uses all of them), and
MScore(l, f) = mean_m Ĩ_{l,f}^m / Ĩ_{l,f} is the same share inside module f (self-attention,
cross-attention, FFN), averaged over pairs. This is the reading under which the paper's
"attention MScores near 1.0" means "attention neurons are shared by all pairs".
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

from .sites import site_kind, site_layer, site_side
from .scoring import read_scores


def read_counts(path: str | Path) -> pd.DataFrame:
    """A masks ``.counts.csv``: site, pair, width, general, specific; plus side, layer, kind."""
    df = pd.read_csv(path)
    df["side"] = df["site"].map(site_side)
    df["layer"] = df["site"].map(site_layer)
    df["kind"] = df["site"].map(site_kind)
    return df


def _shares(counts: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Per ``keys`` + pair: the pair's specific neurons over all specific neurons of the group."""
    sites = counts.drop_duplicates("site")
    total = (sites["width"] - sites["general"]).groupby([sites[k] for k in keys]).sum()
    mine = counts.groupby(keys + ["pair"])["specific"].sum().reset_index()
    mine["total"] = [total[tuple(r[k] for k in keys) if len(keys) > 1 else r[keys[0]]] for _, r in mine.iterrows()]
    mine["share"] = np.where(mine["total"] > 0, mine["specific"] / mine["total"].where(mine["total"] > 0, 1), np.nan)
    return mine


def lscore(counts: pd.DataFrame) -> pd.DataFrame:
    """Eq. 10: columns side, layer, pair, lscore."""
    s = _shares(counts, ["side", "layer"])
    return s.rename(columns={"share": "lscore"})[["side", "layer", "pair", "lscore"]]


def mscore(counts: pd.DataFrame) -> pd.DataFrame:
    """Eq. 11: columns side, layer, kind, mscore (the mean over pairs of each pair's share)."""
    s = _shares(counts, ["side", "layer", "kind"])
    return s.groupby(["side", "layer", "kind"], as_index=False)["share"].mean().rename(columns={"share": "mscore"})


def ranks(x: np.ndarray) -> np.ndarray:
    """Average ranks (ties share their mean rank), as Spearman's correlation needs."""
    order = np.argsort(x, kind="stable")
    r = np.empty(len(x))
    r[order] = np.arange(len(x), dtype=float)
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=r)
    return (sums / counts)[inverse]


def importance_correlation(vectors: dict[str, dict[str, np.ndarray]], kind: str | None = None) -> pd.DataFrame:
    """Spearman correlation between pairs of the importance of every neuron of the sites of one
    module kind (all sites when ``kind`` is None); ``vectors`` is pair -> site -> importance."""
    pairs = list(vectors)
    sites = [s for s in vectors[pairs[0]] if kind is None or site_kind(s) == kind]
    if not sites:
        raise ValueError(f"no sites of kind {kind!r}")
    data = np.stack([ranks(np.concatenate([np.asarray(vectors[p][s], dtype=float) for s in sites])) for p in pairs])
    return pd.DataFrame(np.corrcoef(data), index=pairs, columns=pairs)


def resolve_site(name: str, sites: list[str]) -> str:
    """``encoder.layers.-1.ffn.fc1`` -> the last encoder layer's site; other names must exist."""
    parts = name.split(".")
    if len(parts) > 2 and parts[2].lstrip("-").isdigit() and int(parts[2]) < 0:
        layers = sorted({int(s.split(".")[2]) for s in sites if s.startswith(f"{parts[0]}.layers.")})
        if not layers:
            raise ValueError(f"no {parts[0]} layers among the sites")
        parts[2] = str(layers[int(parts[2])])
    site = ".".join(parts)
    if site not in sites:
        raise ValueError(f"unknown neuron site {name!r}; sites look like {sites[0]!r}")
    return site


def read_score_files(paths: list[str | Path]) -> pd.DataFrame:
    """Score CSVs -> system, pair, bleu, seed."""
    return read_scores(paths)[["system", "pair", "bleu", "seed"]]


def delta_bleu(scores: pd.DataFrame, systems: list[str], reference: str) -> pd.DataFrame:
    """BLEU of each system minus the reference system's, per pair and seed, then averaged over
    seeds: columns system, pair, delta."""
    ref = scores[scores["system"] == reference].set_index(["seed", "pair"])["bleu"]
    if ref.empty:
        raise ValueError(f"no scores for the reference system {reference!r}")
    rows = []
    for system in systems:
        sub = scores[scores["system"] == system]
        if sub.empty:
            raise ValueError(f"no scores for system {system!r}")
        d = sub.set_index(["seed", "pair"])["bleu"] - ref
        for pair, value in d.groupby(level="pair", sort=False).mean().items():  # pairs in config order
            rows.append({"system": system, "pair": pair, "delta": float(value)})
    return pd.DataFrame(rows)


def read_training_log(path: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A ``train_log.csv`` -> (training rows: update, loss; validation rows: update, pair, loss, bleu)."""
    rows = defaultdict(list)
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            rows[r["kind"]].append(r)
    train = pd.DataFrame([{"update": int(r["update"]), "loss": float(r["loss"])} for r in rows["train"]],
                         columns=["update", "loss"])
    valid = pd.DataFrame([{"update": int(r["update"]), "pair": r["pair"], "loss": float(r["loss"]),
                           "bleu": float(r["bleu"]) if r["bleu"] else np.nan} for r in rows["valid"]],
                         columns=["update", "pair", "loss", "bleu"])
    return train, valid
