"""The training loop: token-based length-bucketed batches with pairs mixed, label-smoothed
cross-entropy, Adam with inverse-sqrt warmup, clipping, accumulation, bf16 autocast on CUDA,
per-pair validation (loss and BLEU), atomic resumable checkpoints and a CSV log.

A killed run resumes from ``checkpoint_last.pt`` (model, optimizer, update counter, RNG states,
epoch and batch position) to the same losses as an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from tqdm import tqdm

from .checkpoint import load_checkpoint, save_checkpoint
from .data import Batch, ParallelData, bucket_of, epoch_batches
from .distributed import World
from .fileio import atomic_open, read_lines
from .model import ModelConfig, SiteContext, Transformer, context_maker
from .scoring import corpus_scores
from .translate import translate_data
from .vocab import Vocabulary

log = logging.getLogger(__name__)

LOG_FIELDS = ["kind", "update", "epoch", "pair", "loss", "bleu", "lr", "tokens_per_s", "wall_s"]


@dataclass
class TrainConfig:
    max_tokens: int = 4096          # target tokens (padded) per micro-batch
    update_freq: int = 1            # micro-batches accumulated into one update
    lr: float = 5e-4
    warmup_updates: int = 4000
    max_updates: int = 100000
    max_epochs: int | None = None
    clip_norm: float = 0.0          # 0 = no clipping (fairseq's default)
    label_smoothing: float = 0.1
    adam_betas: tuple[float, float] = (0.9, 0.98)
    adam_eps: float = 1e-9
    weight_decay: float = 0.0
    seed: int = 1
    mixed_batches: bool = True      # pairs mixed within a batch (measured: far better than one-pair batches)
    sampling: str = "proportional"  # or "temperature"
    temperature: float = 1.0
    log_interval: int = 100
    validate_interval: int = 1000
    valid_bleu_sentences: int = 200  # dev sentences per pair decoded (greedy) at validation; 0 = loss only
    best_by: str = "loss"           # "loss" or "bleu"
    keep_last: int = 0              # also keep checkpoint{update}.pt of the last N validations (for averaging)
    bf16: bool = True               # autocast on CUDA; CPU trains in fp32
    device: str = "auto"
    strict: bool = False            # parameters that got no gradient in an update do not move at all
    compile: bool = False           # torch.compile the training forward/backward (same trajectory, faster steps)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        d = dict(d)
        if "adam_betas" in d:
            d["adam_betas"] = tuple(d["adam_betas"])
        return cls(**d)


def inverse_sqrt_lr(update: int, peak: float, warmup: int) -> float:
    """Linear warmup to ``peak`` over ``warmup`` updates, then peak * sqrt(warmup / update)."""
    if warmup > 0 and update < warmup:
        return peak * update / warmup
    return peak * math.sqrt(max(warmup, 1) / max(update, 1))


def label_smoothed_loss(logits: torch.Tensor, target: torch.Tensor, eps: float, pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(label-smoothed loss, NLL), both summed over non-pad target tokens."""
    flat_logits, flat_target = logits.reshape(-1, logits.size(-1)).float(), target.reshape(-1)
    loss = F.cross_entropy(flat_logits, flat_target, ignore_index=pad, reduction="sum", label_smoothing=eps)
    nll = F.cross_entropy(flat_logits, flat_target, ignore_index=pad, reduction="sum")
    return loss, nll


def _fingerprint(model_cfg: ModelConfig, cfg: TrainConfig, pairs: list[str], vocab_path: Path, extra: str) -> str:
    """What a resumable run must share with the checkpoint it resumes (max_updates may grow)."""
    # Keys that do not change the training trajectory may differ (validation runs in eval mode and
    # draws no random numbers), so a longer run or more frequent validation resumes.
    free = ("max_updates", "max_epochs", "device", "log_interval", "validate_interval", "valid_bleu_sentences",
            "best_by", "keep_last", "compile")
    train = {k: v for k, v in asdict(cfg).items() if k not in free}
    blob = json.dumps([model_cfg.to_dict(), train, pairs, vocab_path.read_text(encoding="utf-8"), extra], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


class CsvLog:
    """The training log. Its rows also travel in every checkpoint, so a resumed run rewrites the
    history up to the checkpoint even if the file was lost (Snakemake removes the outputs of a
    killed job)."""

    def __init__(self, path: Path | None, rows: list[dict] | None = None):
        """``path`` None: rows are kept but not written (ranks other than 0)."""
        self.path, self.rows = path, list(rows or [])
        if path is None:
            return
        with atomic_open(path) as f:
            w = csv.DictWriter(f, LOG_FIELDS)
            w.writeheader()
            w.writerows(self.rows)

    def write(self, **row) -> None:
        row = {k: str(row.get(k, "")) for k in LOG_FIELDS}
        self.rows.append(row)
        if self.path is None:
            return
        with open(self.path, "a", newline="") as f:
            csv.DictWriter(f, LOG_FIELDS).writerow(row)


def write_model_card(path: Path, model: Transformer) -> None:
    """The model's config and exact parameter count beside its checkpoints (the tables' Para)."""
    with atomic_open(path) as f:
        json.dump({"parameters": model.num_parameters(), "model_config": model.cfg.to_dict()}, f, indent=1)


class Trainer:
    """Trains one model on the pairs of ``data_dir``; ``masks_for`` (the method) turns a batch's
    pair ids into a SiteContext that masks each example's neurons."""

    def __init__(self, model_cfg: ModelConfig, cfg: TrainConfig, data_dir: str | Path, raw_dir: str | Path,
                 pairs: list[str], out_dir: str | Path, init_from: str | Path | None = None,
                 masks_for: Callable[[torch.Tensor], SiteContext] | None = None, fingerprint_extra: str = ""):
        self.cfg, self.pairs = cfg, list(pairs)
        self.world = World.from_env()  # one process, or one rank of a torchrun group
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.raw_dir = Path(raw_dir)
        self.device = self.world.device(cfg.device)
        if self.device.type == "cuda":
            torch.backends.cuda.enable_cudnn_sdp(False)  # ~0.5 s per new shape; see docs/benchmarks.md
            torch.backends.cuda.matmul.allow_tf32 = True
        vocab_path = Path(data_dir) / "dict.txt"
        self.vocab = Vocabulary.load(vocab_path)
        model_cfg.vocab_size, model_cfg.pad_id = len(self.vocab), self.vocab.pad
        self.model_cfg = model_cfg
        self.train_data = ParallelData(data_dir, "train", pairs, self.vocab, model_cfg.max_positions)
        self.dev_data = ParallelData(data_dir, "dev", pairs, self.vocab, model_cfg.max_positions)
        torch.manual_seed(cfg.seed)
        self.model = Transformer(model_cfg).to(self.device)
        # the module that runs forward/backward: DDP all-reduces gradients; self.model is saved
        self.net = self.model
        if self.world.distributed:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = torch.nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        if cfg.compile:  # weights stay in self.model: checkpoints are unchanged
            self.net = torch.compile(self.net)
        self.optimizer = torch.optim.Adam(
            self.model.parameters(), lr=cfg.lr, betas=cfg.adam_betas, eps=cfg.adam_eps,
            weight_decay=cfg.weight_decay, fused=self.device.type == "cuda",
        )
        # pair ids of a batch -> SiteContext: the method's masks, the routes of +TS / +Adapter
        self.context_for = context_maker(model_cfg, self.pairs, masks_for, self.device)
        self.fingerprint = _fingerprint(model_cfg, cfg, self.pairs, vocab_path, fingerprint_extra)
        self.update, self.epoch, self.batch_in_epoch = 0, 0, 0
        self.best: float | None = None
        self.log_rows: list[dict] = []
        resumed = self._resume()
        if not resumed and init_from is not None:
            state = load_checkpoint(init_from)
            self.model.load_state_dict(state["model"])
            log.info("initialized from %s (fresh optimizer)", init_from)
        if self.world.main:
            self.csv = CsvLog(self.out_dir / "train_log.csv", self.log_rows)
            write_model_card(self.out_dir / "model.json", self.model)
        else:
            self.csv = CsvLog(None, self.log_rows)
            torch.manual_seed(cfg.seed * 1000 + self.world.rank + self.update)  # own dropout per rank

    # ---- checkpoints -----------------------------------------------------------------------
    def _state(self) -> dict:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "model_config": self.model_cfg.to_dict(),
            "train_config": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self.cfg).items()},
            "pairs": self.pairs,
            "update": self.update, "epoch": self.epoch, "batch_in_epoch": self.batch_in_epoch,
            "best": self.best, "fingerprint": self.fingerprint, "log_rows": self.csv.rows,
            "rng_cpu": torch.get_rng_state(),
            "rng_cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        }

    def _resume(self) -> bool:
        path = self.out_dir / "checkpoint_last.pt"
        if not path.exists():
            return False
        state = load_checkpoint(path)
        if state.get("fingerprint") != self.fingerprint:
            stale = path.with_name("checkpoint_last.stale.pt")
            path.replace(stale)
            log.warning("%s belongs to another configuration; moved to %s and starting afresh", path, stale)
            return False
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.update, self.epoch, self.batch_in_epoch = state["update"], state["epoch"], state["batch_in_epoch"]
        self.best = state["best"]
        if not (self.out_dir / "checkpoint_best.pt").exists():
            # Snakemake removes the outputs of a job it reruns: the best weights are gone, so the
            # best score must go too, or no new checkpoint_best.pt would ever be written.
            self.best = None
        self.log_rows = state.get("log_rows", [])
        torch.set_rng_state(state["rng_cpu"])
        if state["rng_cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng_cuda"])
        log.info("resumed from %s at update %d (epoch %d, batch %d)", path, self.update, self.epoch, self.batch_in_epoch)
        return True

    def save(self, best: bool) -> None:
        if not self.world.main:
            return
        state = self._state()
        save_checkpoint(state, self.out_dir / "checkpoint_last.pt")
        if best:
            save_checkpoint(state, self.out_dir / "checkpoint_best.pt")
        if self.cfg.keep_last > 0:
            save_checkpoint(state, self.out_dir / f"checkpoint{self.update}.pt")
            kept = sorted(self.out_dir.glob("checkpoint[0-9]*.pt"), key=lambda p: int(p.stem[len("checkpoint"):]))
            for old in kept[: -self.cfg.keep_last]:
                old.unlink()

    # ---- one update --------------------------------------------------------------------------
    def _collate(self, items) -> tuple[Batch, int]:
        """(batch on the device, its target tokens), padded to the batch's bucket length so the
        model sees only the bucket shapes. Tokens are counted on the host: reading a count back
        from the GPU would stall it at every update."""
        length = bucket_of(max(int(self.train_data.sizes(p)[i]) for p, i in items))
        batch = self.train_data.collate(items, length)
        return batch.to(self.device), batch.target_tokens

    def step(self, micro_batches: list[list[tuple[int, int]]]) -> tuple[torch.Tensor, int]:
        """One optimizer update over this rank's micro-batches; returns (loss per token, target
        tokens), both over all ranks. Each rank divides by the global token count and DDP
        averages over ranks, so the gradient is that of one process over the global batch.
        The loss stays a 0-d tensor on the device (``float()`` it when logging): no host sync per
        update on one GPU."""
        self.net.train()
        collated = [self._collate(mb) for mb in micro_batches]
        batches = [b for b, _ in collated]
        (ntok,) = self.world.sum(sum(n for _, n in collated), device=self.device)
        self.optimizer.zero_grad(set_to_none=True)
        total = torch.zeros((), device=self.device)
        autocast = self.device.type == "cuda" and self.cfg.bf16
        for j, b in enumerate(batches):
            sync = j == len(batches) - 1 or not self.world.distributed
            with contextlib.nullcontext() if sync else self.net.no_sync():  # all-reduce once per update
                with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=autocast):
                    logits = self.net(b.src, b.prev, self.context_for(b.pair))
                loss, _ = label_smoothed_loss(logits, b.target, self.cfg.label_smoothing, self.vocab.pad)
                (loss * self.world.size / ntok).backward()
            total += loss.detach()
        if self.world.distributed:
            total = torch.tensor(self.world.sum(float(total), device=self.device)[0])
        if self.cfg.clip_norm > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.clip_norm)
        lr = inverse_sqrt_lr(self.update + 1, self.cfg.lr, self.cfg.warmup_updates)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        if self.cfg.strict:
            self._strict_step()
        else:
            self.optimizer.step()
        self.update += 1
        return total / ntok, ntok

    @torch.no_grad()
    def _strict_step(self) -> None:
        """Adam step after which every parameter entry whose gradient was exactly zero (a masked
        neuron's weights, an unseen token's embedding) is put back, with its Adam moments: plain
        Adam would move it through its momentum."""
        params = [p for g in self.optimizer.param_groups for p in g["params"] if p.grad is not None]
        frozen = [p.grad.eq(0) for p in params]
        keys = ("exp_avg", "exp_avg_sq")
        before = [(p.clone(), *(self.optimizer.state[p][k].clone() for k in keys if k in self.optimizer.state[p]))
                  for p in params]
        self.optimizer.step()
        for p, z, old in zip(params, frozen, before):
            p.copy_(torch.where(z, old[0], p))
            for k, o in zip(keys, old[1:]):
                st = self.optimizer.state[p][k]
                st.copy_(torch.where(z, o, st))

    # ---- validation --------------------------------------------------------------------------
    @torch.no_grad()
    def validate(self) -> dict[str, dict[str, float]]:
        self.model.eval()
        out = {}
        for p, pair in enumerate(self.pairs):
            loss_sum, ntok = 0.0, 0
            items = [(p, i) for i in range(len(self.dev_data.src[p]))]
            for start in range(0, len(items), 64):
                b = self.dev_data.collate(items[start:start + 64]).to(self.device)
                logits = self.model(b.src, b.prev, self.context_for(b.pair))
                _, nll = label_smoothed_loss(logits, b.target, 0.0, self.vocab.pad)
                loss_sum, ntok = loss_sum + float(nll), ntok + b.target_tokens
            row = {"loss": loss_sum / max(ntok, 1)}
            n = min(self.cfg.valid_bleu_sentences, len(items))
            if n > 0:
                hyps = translate_data(self.model, self.dev_data, p, self.vocab, self.device, beam=1,
                                      context_for=self.context_for, limit=n, bf16=self.cfg.bf16)
                refs = read_lines(self.raw_dir / f"dev.{pair}.tgt")[:n]
                row["bleu"] = corpus_scores(hyps, refs)["bleu"]
            out[pair] = row
        return out

    def _validate_and_save(self, wall: float) -> None:
        """Rank 0 validates and writes the checkpoints; the other ranks wait for it."""
        if self.world.main:
            self._validate_and_save_main(wall)
        self.world.barrier()

    def _validate_and_save_main(self, wall: float) -> None:
        results = self.validate()
        for pair, r in results.items():
            self.csv.write(kind="valid", update=self.update, epoch=self.epoch, pair=pair,
                           loss=f"{r['loss']:.4f}", bleu=f"{r['bleu']:.2f}" if "bleu" in r else "", wall_s=f"{wall:.1f}")
        if self.cfg.best_by == "bleu" and all("bleu" in r for r in results.values()):
            metric = -sum(r["bleu"] for r in results.values()) / len(results)
        else:
            metric = sum(r["loss"] for r in results.values()) / len(results)
        is_best = self.best is None or metric < self.best
        if is_best:
            self.best = metric
        log.info("update %d: dev %s%s", self.update,
                 ", ".join(f"{p} {r['loss']:.3f}" + (f"/{r['bleu']:.1f}" if "bleu" in r else "") for p, r in results.items()),
                 " (best)" if is_best else "")
        self.save(best=is_best)

    # ---- the loop ------------------------------------------------------------------------------
    def train(self) -> None:
        cfg = self.cfg
        log.info("model: %s parameters; device %s; %d training examples over %d pairs",
                 f"{self.model.num_parameters():,}", self.device, len(self.train_data), len(self.pairs))
        start = time.time()
        window_tok, window_t = 0, time.time()
        bar = tqdm(total=cfg.max_updates, initial=self.update, desc="train", disable=None if self.world.main else True,
                   dynamic_ncols=True)
        stop = False
        while not stop and self.update < cfg.max_updates:
            if cfg.max_epochs is not None and self.epoch >= cfg.max_epochs:
                break
            batches = epoch_batches(self.train_data, cfg.max_tokens, cfg.seed, self.epoch, cfg.mixed_batches,
                                    cfg.sampling, cfg.temperature)
            group = cfg.update_freq * self.world.size  # micro-batches per update, over all ranks
            while self.batch_in_epoch < len(batches):
                micro = batches[self.batch_in_epoch:self.batch_in_epoch + group]
                if len(micro) < self.world.size:  # too few left to give every rank one
                    break
                self.batch_in_epoch += len(micro)
                loss, ntok = self.step(micro[self.world.rank::self.world.size])
                window_tok += ntok
                bar.update(1)
                if self.update % cfg.log_interval == 0 or self.update == cfg.max_updates:
                    loss = float(loss)
                    now = time.time()
                    tps = window_tok / max(now - window_t, 1e-9)
                    lr = self.optimizer.param_groups[0]["lr"]
                    self.csv.write(kind="train", update=self.update, epoch=self.epoch, loss=f"{loss:.4f}",
                                   lr=f"{lr:.3e}", tokens_per_s=f"{tps:.0f}", wall_s=f"{now - start:.1f}")
                    bar.set_postfix(loss=f"{loss:.3f}", lr=f"{lr:.2e}", tok_s=f"{tps:,.0f}")
                    if bar.disable and self.world.main:  # no terminal: the log file gets the progress instead
                        log.info("update %d loss %.4f lr %.3e %.0f tok/s", self.update, loss, lr, tps)
                    window_tok, window_t = 0, now
                if self.update % cfg.validate_interval == 0 and self.update < cfg.max_updates:
                    self._validate_and_save(time.time() - start)
                if self.update >= cfg.max_updates:
                    stop = True
                    break
            if not stop:
                self.epoch += 1
                self.batch_in_epoch = 0
        bar.close()
        self._validate_and_save(time.time() - start)
        log.info("done: %d updates in %.1f s", self.update, time.time() - start)


def run_training(model: dict, train: dict, data_dir: str, raw_dir: str, pairs: list[str], out_dir: str,
                 threads: int = 1) -> None:
    """Entry point of the pretrain and train_individual rules."""
    torch.set_num_threads(max(1, threads))
    trainer = Trainer(ModelConfig(vocab_size=0, **model), TrainConfig.from_dict(train), data_dir, raw_dir, pairs, out_dir)
    trainer.train()
