"""Per-pair neuron masks on the device, and neuron erasure (Figure 5).

``MaskTable`` holds every pair's masks of every site as one (pairs x total width) table, built
once on the device. For a batch it gathers one row per example (a single ``index_select``) and
hands each site a view of its columns: no Python work per neuron, per token or per example.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open

from .model import SiteContext


class MaskError(ValueError):
    """A masks file that does not fit the model or the pairs it is used with."""


def load_masks(path: str | Path, pairs: list[str] | None = None, widths: dict[str, int] | None = None):
    """(site -> general mask, pair -> site -> mask, metadata) from an ``allocate`` output, for
    ``pairs`` (default: every pair the file was allocated for). Every mask must be boolean; with
    ``widths`` (site -> width of the model), every pair and the general neurons must have exactly
    the model's sites, each of its width, and every pair's mask must keep the general neurons."""
    general: dict[str, np.ndarray] = {}
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
        pairs = pairs if pairs is not None else meta.get("pairs", "").split(",")
        masks: dict[str, dict[str, np.ndarray]] = {p: {} for p in pairs}
        for key in f.keys():
            owner, _, site = key.partition("/")
            tensor = f.get_tensor(key)
            if tensor.dtype != torch.bool:
                raise MaskError(f"{path}: {key} holds {tensor.dtype} values; masks are boolean (rerun allocate)")
            if owner == "general":
                general[site] = tensor.numpy()
            elif owner in masks:
                masks[owner][site] = tensor.numpy()
    missing = [p for p in pairs if not masks[p]]
    if missing:
        raise MaskError(f"{path} has no masks for pairs {missing} (it was allocated for {meta.get('pairs', '?')})")
    if widths is not None:
        check_masks(path, masks, widths)
        check_masks(path, {"general": general}, widths)  # erasure draws from them
        for pair, sites in masks.items():
            for site, g in general.items():
                if (g & ~sites[site]).any():
                    raise MaskError(f"{path}: the mask of {pair} at {site} leaves off general neurons "
                                    f"{np.flatnonzero(g & ~sites[site])[:5].tolist()}: not an allocation (rerun allocate)")
    return general, masks, meta


def check_masks_model(path: str | Path, meta: dict, digest: str, model: str | Path) -> None:
    """The masks were allocated from the importance of ``model`` (its ``checkpoint.model_digest``):
    the neurons they keep are that model's."""
    theirs = meta.get("model_digest")
    if theirs != digest:
        measured = f"the importance of another model (model digest {theirs[:12]})" if theirs else \
            "importance files that do not name their model (written by older code)"
        raise MaskError(f"{path} was allocated from {measured}, not from {model} (model digest {digest[:12]}): "
                        "recompute importance and masks from this model (snakemake --forcerun importance), "
                        "or start from the model they were measured on")


def check_masks_of_checkpoint(path: str | Path, checkpoint: str | Path, record: dict) -> None:
    """``checkpoint`` (its record: ``checkpoint.load_for_inference``) was fine-tuned with the masks
    ``path`` holds (the digest of the file, which allocate writes with the same bytes every time)."""
    from .fileio import sha256sum

    trained_with = (record.get("provenance") or {}).get("masks_sha256")
    if trained_with is None:
        raise MaskError(f"{checkpoint} was trained without masks; {path} can only mask the model fine-tuned with it")
    if trained_with != sha256sum(path):
        raise MaskError(f"{path} is not the masks file {checkpoint} was fine-tuned with (that one's sha256 was "
                        f"{trained_with[:12]}): fine-tune again with these masks (snakemake --forcerun finetune), "
                        "or translate with the masks it was trained with")


def check_masks(path: str | Path, masks: dict[str, dict[str, np.ndarray]], widths: dict[str, int]) -> None:
    """Every pair's masks (or ``general``'s) cover exactly the model's sites, each a vector of the
    site's width."""
    for pair, sites in masks.items():
        absent, unknown = sorted(set(widths) - set(sites)), sorted(set(sites) - set(widths))
        problems = ([f"no mask for its sites {', '.join(absent[:3])}" + (" ..." if len(absent) > 3 else "")] if absent else []) \
            + ([f"masks for sites it lacks {', '.join(unknown[:3])}"] if unknown else [])
        if problems:
            raise MaskError(f"{path}: the masks of {pair} do not fit the model: {'; '.join(problems)}")
        for site, width in widths.items():
            if sites[site].shape != (width,):
                raise MaskError(f"{path}: the mask of {pair} at {site} has shape {tuple(sites[site].shape)}, "
                                f"but the site has {width} neurons")


class MaskTable:
    """Callable: pair ids of a batch -> SiteContext that masks each example with its pair's mask."""

    def __init__(self, masks: dict[str, dict[str, np.ndarray]], pairs: list[str], device="cpu"):
        self.sites = list(masks[pairs[0]])
        self.widths = [int(masks[pairs[0]][s].size) for s in self.sites]
        rows = [np.concatenate([masks[p][s] for s in self.sites]) for p in pairs]
        self.table = torch.tensor(np.stack(rows), dtype=torch.float32, device=device)
        self.offsets = np.concatenate([[0], np.cumsum(self.widths)]).tolist()

    def __call__(self, pair_ids) -> SiteContext:
        """``pair_ids``: the batch's pair ids on the host (a NumPy array or a CPU tensor)."""
        ids = torch.as_tensor(np.asarray(pair_ids, dtype=np.int64))
        rows = self.table.index_select(0, ids.to(self.table.device, non_blocking=True))
        return SiteContext(masks={s: rows[:, self.offsets[j]:self.offsets[j + 1]] for j, s in enumerate(self.sites)})

    def active_share(self) -> float:
        return float(self.table.mean())


def erase_neurons(general: dict[str, np.ndarray], masks: dict[str, dict[str, np.ndarray]], fraction: float, seed: int,
          pair: str | None = None) -> dict[str, dict[str, np.ndarray]]:
    """Masks with a random ``fraction`` of neurons zeroed in every pair, per site: of the general
    neurons (``pair`` None), or of ``pair``'s specific neurons. The erased neurons are removed
    from the model, so every pair that used them loses them."""
    rng = np.random.default_rng(seed)
    out = {p: {s: m.copy() for s, m in sites.items()} for p, sites in masks.items()}
    for site, g in general.items():
        pool = g if pair is None else (masks[pair][site] & ~g)
        idx = np.flatnonzero(pool)
        chosen = rng.choice(idx, size=int(round(fraction * idx.size)), replace=False) if idx.size else idx
        for p in out:
            out[p][site][chosen] = False
    return out
