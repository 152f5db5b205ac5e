"""Validation during training: per-pair dev loss (NLL per target token) and, on the first dev
sentences, greedy BLEU against the raw references; and the score that picks the best checkpoint."""

from __future__ import annotations

from typing import Callable

import torch

from .data import ParallelData, inference_batches, pair_ids
from .languages import Pair
from .loss import label_smoothed_loss
from .model import SiteContext, Transformer
from .scoring import corpus_scores
from .translate import translate_data


@torch.no_grad()
def validate(model: Transformer, dev: ParallelData, references: list[list[str]], device,
             context_for: Callable[[torch.Tensor], SiteContext], bleu_sentences: int, bf16: bool = False,
             max_tokens: int = 8000) -> dict[str, dict[str, float]]:
    """pair -> {"loss": NLL per target token, "bleu": greedy BLEU of the first ``bleu_sentences``
    (absent when 0)}; ``references`` are the raw dev targets of each pair of ``dev``. The loss
    passes run on length-sorted batches of about ``max_tokens`` padded source tokens, under bf16
    autocast on CUDA (the loss itself in fp32), and read the loss back once per pair."""
    was_training = model.training
    model.eval()
    device_type = torch.device(device).type
    out = {}
    for p, pair in enumerate(dev.pairs):
        loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        ntok = 0
        for items in inference_batches(dev, p, max_tokens):
            host = dev.collate(items)
            b = host.to(device)
            with torch.autocast(device_type, dtype=torch.bfloat16, enabled=bf16 and device_type == "cuda"):
                logits = model(b.src, b.prev, context_for(pair_ids(items)))
            loss_sum += label_smoothed_loss(logits, b.target, 0.0, dev.vocab.pad)
            ntok += dev.target_tokens(items)
        row = {"loss": float(loss_sum) / max(ntok, 1)}
        n = min(bleu_sentences, len(dev.src[p]))
        if n > 0:
            hyps = translate_data(model, dev, p, dev.vocab, device, beam=1, context_for=context_for, limit=n, bf16=bf16)
            row["bleu"] = corpus_scores(hyps, references[p][:n], Pair.parse(pair).tgt)["bleu"]
        out[pair] = row
    model.train(was_training)
    return out


def training_trend(rows: list[dict], best_by: str) -> dict | None:
    """How a run's metric moved from its first measurement to its last, from its log rows
    (``train_log.csv``'s): the dev metric that picks the best checkpoint (mean loss, or mean BLEU
    where ``best_by`` is "bleu") over its validations, or, where it validated once, its training
    loss over its log rows; and whether it ended worse, with a ``warning`` then: a model that ends
    worse than it started diverged (or overfit from the start). None below two measurements."""
    by_update: dict[int, dict[str, dict[str, float]]] = {}
    for r in rows:
        if r["kind"] == "valid":
            scores = {"loss": float(r["loss"])} | ({"bleu": float(r["bleu"])} if r["bleu"] != "" else {})
            by_update.setdefault(int(r["update"]), {})[r["pair"]] = scores
    if len(by_update) < 2:
        logged = {int(r["update"]): {"": {"loss": float(r["loss"])}} for r in rows if r["kind"] == "train"}
        if len(logged) < 2:
            return None
        by_update, best_by, dev = logged, "loss", False
    else:
        dev = True
    (first, a), (last, b) = ((u, by_update[u]) for u in (min(by_update), max(by_update)))
    bleu = best_by == "bleu" and all("bleu" in r for r in (*a.values(), *b.values()))
    name, sign = ("dev BLEU", -1) if bleu else ("dev loss" if dev else "training loss", 1)
    start, end = (sign * selection_metric(r, "bleu" if bleu else "loss") for r in (a, b))
    worse = sign * end > sign * start
    out = {"metric": name, "first_update": first, "first": round(start, 4), "last_update": last, "last": round(end, 4),
           "worse": worse}
    if worse:
        out["warning"] = (f"its {name} went from {start:.4f} at update {first} to {end:.4f} at update {last}: it diverged "
                          "or overfit (lower train.lr or raise warmup_updates; see its train_log.csv)")
    return out


def selection_metric(results: dict[str, dict[str, float]], best_by: str) -> float:
    """Lower is better: mean dev loss, or minus mean BLEU when ``best_by`` is "bleu" and every pair
    has one."""
    if best_by == "bleu" and all("bleu" in r for r in results.values()):
        return -sum(r["bleu"] for r in results.values()) / len(results)
    return sum(r["loss"] for r in results.values()) / len(results)
