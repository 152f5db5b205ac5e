"""The training loop: token-based length-bucketed batches with pairs mixed, label-smoothed
cross-entropy, Adam with inverse-sqrt warmup, clipping, accumulation, bf16 autocast on CUDA,
periodic validation and resumable checkpoints (``resume.py``), and the entry point of every
training rule (pretraining, Individual models, the continued control and masked fine-tuning).

A killed or stopped run resumes from its ``resume/`` state (model, optimizer, update counter, RNG
states, epoch and batch position, the best so far) to the same losses and the same best checkpoint
as an uninterrupted one; a finished run is never resumed (see ``resume.py``).
"""

from __future__ import annotations

import contextlib
import logging
import math
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from . import layout
from .checkpoint import load_checkpoint, model_digest
from .data import Batch, ParallelData, bucket_of, epoch_batches, pair_ids
from .distributed import DEFAULT_TIMEOUT_MIN, World
from .binarized import offsets_path
from .fileio import files_digest, read_lines, sha256sum
from .logs import announce, finished_model, progress
from .loss import label_smoothed_loss
from .model import ModelConfig, SiteContext, Transformer, context_maker, site_widths
from .resume import (CsvLog, RunFiles, finish, fingerprint, plain_config, resumable_state, save_state, validates_at,
                     write_model_card)
from .validation import selection_metric, training_trend, validate
from .vocab import Vocabulary

log = logging.getLogger(__name__)


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
    compile: bool = False           # torch.compile the training forward/backward (faster steps; see resume.fingerprint)
    distributed_timeout_min: float = DEFAULT_TIMEOUT_MIN  # how long DDP ranks wait for each other

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        d = dict(d)
        if "adam_betas" in d:
            d["adam_betas"] = tuple(d["adam_betas"])
        return cls(**d)


@contextlib.contextmanager
def _stop_on_signals(handler):
    """Route SIGTERM and SIGINT to ``handler`` while training (main thread only), then restore."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def inverse_sqrt_lr(update: int, peak: float, warmup: int) -> float:
    """Linear warmup to ``peak`` over ``warmup`` updates, then peak * sqrt(warmup / update)."""
    if warmup > 0 and update < warmup:
        return peak * update / warmup
    return peak * math.sqrt(max(warmup, 1) / max(update, 1))


def optimizer_state(saved: dict, fused: bool) -> dict:
    """A saved Adam state as this run's optimizer takes it: fused or not as this run's device says
    (a run started on a CPU and resumed on a GPU keeps the fused kernel). Set before loading, so
    that the step counters land where that kernel wants them."""
    return {**saved, "param_groups": [{**g, "fused": fused, "foreach": None} for g in saved["param_groups"]]}


def restore_cuda_rng(saved, device: torch.device) -> None:
    """Put back the CUDA random stream of the run's device (dropout on a GPU). A state saved on
    another kind of device, or by older code as one state per visible GPU, is not restored: the
    run goes on with this device's own stream, as it would after a cold start."""
    if device.type != "cuda" or saved is None:
        return
    if not isinstance(saved, torch.Tensor):
        log.warning("the resume state holds the CUDA random state of %d GPUs, not of one: %s starts a new stream",
                    len(saved), device)
        return
    torch.cuda.set_rng_state(saved, device)


class Interrupted(RuntimeError):
    """Training stopped on request (SIGTERM, SIGINT) after saving its resume state."""


class Diverged(RuntimeError):
    """A loss became NaN or infinite: training stopped, its resume state left at its last finite
    validation."""


class Trainer:
    """Trains one model on the pairs of ``train_data``, validating on ``dev_data`` against the raw
    ``dev_references``; ``masks_for`` (the method) turns a batch's pair ids into a SiteContext that
    masks each example's neurons. The constructor touches no file: ``train()`` first resumes
    ``files``' resume state (see ``resume.py``), or starts from the weights of ``init`` (a
    checkpoint path), or from scratch. ``provenance`` names the files the run starts from (their
    digests): a resume state from other files is never resumed, and the checkpoints record it.
    ``world`` and ``device``: the process group and the device of this process, when the caller
    decided them already (``run_training``: the masks live on the same device); else decided here."""

    def __init__(self, model_cfg: ModelConfig, cfg: TrainConfig, train_data: ParallelData, dev_data: ParallelData,
                 dev_references: list[list[str]], files: RunFiles, init: str | Path | None = None,
                 masks_for: Callable[[torch.Tensor], SiteContext] | None = None, provenance: dict | None = None,
                 world: World | None = None, device: torch.device | None = None):
        self.cfg, self.files, self.init, self.provenance = cfg, files, init, dict(provenance or {})
        run = Path(files.checkpoint).parent  # models/{system} or models/individual/{pair}: the run's name
        self.name = run.name if run.parent.name == "models" else f"{run.parent.name}/{run.name}"
        self.train_data, self.dev_data, self.dev_references = train_data, dev_data, dev_references
        self.pairs, self.vocab = list(train_data.pairs), train_data.vocab
        self.world = world or World.from_env(cfg.distributed_timeout_min)  # one process, or one rank of torchrun's
        self.device = device or self.world.device(cfg.device)
        if self.device.type == "cuda":
            # cuDNN attention costs ~0.5 s per new batch shape; torch 2.11 (measured on an H100)
            # picked it before the others, 2.13 ranks it last, where this changes nothing
            torch.backends.cuda.enable_cudnn_sdp(False)
            torch.backends.cuda.matmul.allow_tf32 = True
        model_cfg.vocab_size, model_cfg.pad_id = len(self.vocab), self.vocab.pad
        self.model_cfg = model_cfg
        torch.manual_seed(cfg.seed)
        self.model = Transformer(model_cfg).to(self.device)
        # the module that runs forward/backward: DDP all-reduces gradients; self.model is saved
        self.net = self.model
        if self.world.distributed:
            ids = [self.device.index] if self.device.type == "cuda" else None
            # no buffer to keep in sync (the positions table is a constant): no broadcast per forward
            self.net = torch.nn.parallel.DistributedDataParallel(self.model, device_ids=ids, broadcast_buffers=False)
        if cfg.compile:  # weights stay in self.model: checkpoints are unchanged
            self.net = torch.compile(self.net)
        self.fused = self.device.type == "cuda"  # one kernel per step on a GPU (also after a resume from a CPU run)
        self.optimizer = torch.optim.Adam(
            self.model.parameters(), lr=cfg.lr, betas=cfg.adam_betas, eps=cfg.adam_eps,
            weight_decay=cfg.weight_decay, fused=self.fused,
        )
        # pair ids of a batch -> SiteContext: the method's masks, the routes of +TS / +Adapter
        self.context_for = context_maker(model_cfg, self.pairs, masks_for, self.device)
        self.fingerprint = fingerprint(model_cfg.to_dict(), plain_config(cfg), self.pairs, self.vocab.tokens,
                                       self.provenance)
        # on a CPU the thread count changes the float rounding of training, so the weights (measured:
        # docs/benchmarks.md): a state is resumed only at the thread count it was made with
        self.cpu_threads = torch.get_num_threads() if self.device.type == "cpu" else None
        self.update, self.epoch, self.batch_in_epoch = 0, 0, 0
        self.best: float | None = None
        self.validated_at: int | None = None  # the update of the last validation
        self.csv: CsvLog | None = None
        self.stop_requested = False  # set by request_stop (SIGTERM, SIGINT): save and stop after this update

    # ---- start, resume, save -----------------------------------------------------------------
    def start(self) -> None:
        """Resume, or initialize from ``init``; then (rank 0) rewrite the log and the model card.
        Rank 0 decides whether the resume state is this run's (and sets it aside if not) before
        any other rank looks at it: ranks must never race to move one folder."""
        log_rows: list[dict] = []
        state = None
        if self.world.main:
            state = resumable_state(self.files, self.fingerprint, plain_config(self.cfg), self.cpu_threads)
        self.world.barrier()
        if not self.world.main and self.files.last.exists():  # kept by rank 0: this run's
            state = load_checkpoint(self.files.last)
        if state is not None:
            self._restore(state)
            log_rows = state.get("log_rows", [])
        elif self.init is not None:
            self.model.load_state_dict(load_checkpoint(self.init)["model"])
            log.info("initialized from %s (fresh optimizer)", self.init)
        if self.world.main:
            self.csv = CsvLog(self.files.log, log_rows)
            write_model_card(self.files.card, self.model.num_parameters(), self.model.cfg.to_dict())
        else:
            self.csv = CsvLog(None, log_rows)
            torch.manual_seed(self.cfg.seed * 1000 + self.world.rank + self.update)  # own dropout per rank

    def _restore(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(optimizer_state(state["optimizer"], self.fused))
        self.update, self.epoch, self.batch_in_epoch = state["update"], state["epoch"], state["batch_in_epoch"]
        self.best, self.validated_at = state["best"], state["validated_at"]
        torch.set_rng_state(state["rng_cpu"])
        restore_cuda_rng(state.get("rng_cuda"), self.device)
        log.info("resumed from %s at update %d (epoch %d, batch %d)", self.files.last, self.update, self.epoch,
                 self.batch_in_epoch)

    def _state(self, metric: float | None = None) -> dict:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "model_config": self.model_cfg.to_dict(),
            "train_config": plain_config(self.cfg),
            "pairs": self.pairs,
            "update": self.update, "epoch": self.epoch, "batch_in_epoch": self.batch_in_epoch,
            "best": self.best, "validated_at": self.validated_at, "metric": metric,
            "fingerprint": self.fingerprint, "provenance": self.provenance, "cpu_threads": self.cpu_threads,
            "log_rows": self.csv.rows,
            "rng_cpu": torch.get_rng_state(),
            # the stream of the GPU this run uses, not of every visible one: a resume may see fewer
            "rng_cuda": torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None,
        }

    def save(self, best: bool, metric: float | None = None, validation: bool = True) -> None:
        """Rank 0 writes the resume state (and the best weights when ``best``)."""
        if self.world.main:
            save_state(self._state(metric), self.files, best, self.cfg.keep_last, numbered=validation)

    def request_stop(self, *_) -> None:
        """Stop after the current update, with the resume state saved (a signal handler)."""
        self.stop_requested = True

    # ---- one update --------------------------------------------------------------------------
    def _collate(self, items) -> Batch:
        """The batch on the host, padded to its bucket length so the model sees only the bucket
        shapes."""
        length = bucket_of(max(int(self.train_data.sizes(p)[i]) for p, i in items))
        return self.train_data.collate(items, length)

    def step(self, micro_batches: list[list[tuple[int, int]]]) -> tuple[torch.Tensor, int]:
        """One optimizer update over ``micro_batches``, those of every rank (rank r takes the r-th of
        each group of ``world.size``). Returns (this rank's share of the loss per target token, a
        0-d tensor on the device: ``world.sum`` it for the whole; the update's target tokens).
        Each rank divides by the global token count, counted on the host (every rank holds the
        whole group), and DDP averages over ranks, so the gradient is that of one process over the
        global batch. Nothing is read back from the device: no host sync per update."""
        self.net.train()
        ntok = sum(self.train_data.target_tokens(mb) for mb in micro_batches)
        mine = micro_batches[self.world.rank::self.world.size]
        self.optimizer.zero_grad(set_to_none=True)
        total = torch.zeros((), device=self.device)
        autocast = self.device.type == "cuda" and self.cfg.bf16
        for j, items in enumerate(mine):
            host = self._collate(items)
            b = host.to(self.device)
            sync = j == len(mine) - 1 or not self.world.distributed
            with contextlib.nullcontext() if sync else self.net.no_sync():  # all-reduce once per update
                with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=autocast):
                    logits = self.net(b.src, b.prev, self.context_for(pair_ids(items)))
                loss = label_smoothed_loss(logits, b.target, self.cfg.label_smoothing, self.vocab.pad)
                (loss * self.world.size / ntok).backward()
            total += loss.detach()
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
    def _validate_and_save(self, wall: float) -> None:
        """Rank 0 validates and writes the checkpoints; the other ranks wait for it, and all stop
        together if the dev loss is not finite."""
        bad = self._validate_and_save_main(wall) if self.world.main else None
        self.world.barrier()
        if self.world.any(bad is not None):
            self._diverged(bad or "rank 0 found a dev loss that is not finite")

    def _diverged(self, what: str) -> None:
        kept = (f"{self.files.resume_dir} holds the state of update {self.validated_at}, its last validation"
                if self.validated_at else "no resume state was saved")
        raise Diverged(f"training diverged: {what} (train.lr {self.cfg.lr}, warmup_updates {self.cfg.warmup_updates}); "
                       f"lower train.lr or raise warmup_updates (the run then starts from scratch). Nothing was "
                       f"published; {kept}")

    def _validate_and_save_main(self, wall: float) -> str | None:
        """Validate and save; what was not finite, without saving, if a dev loss was not."""
        results = validate(self.model, self.dev_data, self.dev_references, self.device, self.context_for,
                           self.cfg.valid_bleu_sentences, self.cfg.bf16)
        nonfinite = {pair: r["loss"] for pair, r in results.items() if not math.isfinite(r["loss"])}
        if nonfinite:
            return f"the dev loss at update {self.update} is {nonfinite}"
        for pair, r in results.items():
            self.csv.write(kind="valid", update=self.update, epoch=self.epoch, pair=pair,
                           loss=f"{r['loss']:.4f}", bleu=f"{r['bleu']:.2f}" if "bleu" in r else "", wall_s=f"{wall:.1f}")
        metric = selection_metric(results, self.cfg.best_by)
        is_best = self.best is None or metric < self.best
        if is_best:
            self.best = metric
        self.validated_at = self.update
        log.info("update %d: dev %s%s", self.update,
                 ", ".join(f"{p} {r['loss']:.3f}" + (f"/{r['bleu']:.1f}" if "bleu" in r else "") for p, r in results.items()),
                 " (best)" if is_best else "")
        self.save(best=is_best, metric=metric)
        return None

    def _stop(self) -> None:
        """Save the resume state at this update and stop (every rank)."""
        self.save(best=False, validation=False)
        self.world.barrier()
        raise Interrupted(f"stopped at update {self.update} on request; the resume state is in {self.files.resume_dir}: "
                          "rerun the job to resume")

    # ---- the loop ------------------------------------------------------------------------------
    def train(self) -> None:
        """Train to ``max_updates`` (or ``max_epochs``), validate, and leave the best weights in the
        declared checkpoint. On SIGTERM or SIGINT (a cluster's time limit, Ctrl-C) the run saves
        its resume state after the current update and raises ``Interrupted``. Under torchrun the
        process group ends here, on every rank, whatever the outcome (every normal exit has
        passed a barrier by then)."""
        try:
            with _stop_on_signals(self.request_stop):
                self._train()
        finally:
            self.net = self.model  # DDP holds the process group: let it go with the group
            self.world.close()

    def _train(self) -> None:
        cfg = self.cfg
        if self.csv is None:
            self.start()
        log.info("model: %s parameters; device %s; %d training examples over %d pairs",
                 f"{self.model.num_parameters():,}", self.device, len(self.train_data), len(self.pairs))
        if self.world.distributed:
            log.info("%d processes on nodes %s", self.world.size, ", ".join(dict.fromkeys(self.world.nodes)))
        start = time.time()
        window_tok, window_t = 0, time.time()
        bar = progress(total=cfg.max_updates, initial=self.update, desc=self.name, disable=None if self.world.main else True)
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
                loss, ntok = self.step(micro)
                window_tok += ntok
                bar.update(1)
                if self.update % cfg.log_interval == 0 or self.update == cfg.max_updates:
                    loss = self.world.sum(float(loss), device=self.device)[0]  # the whole batch's
                    if not math.isfinite(loss):  # every rank sees the same sum: all stop here
                        self._diverged(f"the training loss at update {self.update} is {loss}")
                    now = time.time()
                    tps = window_tok / max(now - window_t, 1e-9)
                    lr = self.optimizer.param_groups[0]["lr"]
                    self.csv.write(kind="train", update=self.update, epoch=self.epoch, loss=f"{loss:.4f}",
                                   lr=f"{lr:.3e}", tokens_per_s=f"{tps:.0f}", wall_s=f"{now - start:.1f}")
                    bar.set_postfix(loss=f"{loss:.3f}", lr=f"{lr:.2e}", tok_s=f"{tps:,.0f}")
                    if bar.disable and self.world.main:  # no terminal: the log file gets the progress instead
                        log.info("update %d loss %.4f lr %.3e %.0f tok/s", self.update, loss, lr, tps)
                    window_tok, window_t = 0, now
                if validates_at(self.update, cfg.validate_interval, cfg.max_updates):
                    self._validate_and_save(time.time() - start)
                if self.update >= cfg.max_updates:
                    stop = True
                    break
                if self._stop_everywhere():
                    self._stop()
            if not stop:
                self.epoch += 1
                self.batch_in_epoch = 0
        bar.close()
        if self.validated_at != self.update:  # not when a resumed state had validated already
            self._validate_and_save(time.time() - start)
        if self.world.main:
            trend = training_trend(self.csv.rows, cfg.best_by)
            if trend and trend["worse"]:
                log.warning("%s: %s", self.name, trend["warning"])
            write_model_card(self.files.card, self.model.num_parameters(), self.model.cfg.to_dict(), trend)
            finish(self.files)
        self.world.barrier()
        log.info("done: %d updates in %.1f s; best weights in %s", self.update, time.time() - start, self.files.checkpoint)
        if self.world.main:  # the one line of this job on the workflow's console
            announce(log, finished_model(self.name, self.update, time.time() - start, self.csv.rows,
                                         lambda results: selection_metric(results, cfg.best_by)))

    def _stop_everywhere(self) -> bool:
        """Whether any rank was asked to stop (every rank stops at the same update; host memory
        only, so asking costs no GPU sync)."""
        return self.world.any(self.stop_requested)


def run_training(model: dict, train: dict, pairs: list[str], vocab: str, train_src: list[str], train_tgt: list[str],
                 dev_src: list[str], dev_tgt: list[str], dev_references: list[str], checkpoint: str, card: str,
                 train_log: str, init: str | None = None, masks: str | None = None, threads: int = 1,
                 execution: dict | None = None) -> None:
    """Entry point of every training rule: pretrain, train_individual, continue_training (``init``)
    and finetune (``init`` and ``masks``). The array lists (``.tokens.npy`` files) and the dev
    references follow ``pairs``; ``execution`` holds the settings that change how the job runs,
    not what it computes (device, log interval, compile, kept checkpoints)."""
    from .masking import MaskTable, check_masks_model, load_masks

    torch.set_num_threads(max(1, threads))
    cfg = TrainConfig.from_dict({**train, **(execution or {})})
    world = World.from_env(cfg.distributed_timeout_min)
    device = world.device(cfg.device)  # one decision per process: the model and its masks share it
    vocabulary = Vocabulary.load(vocab)
    model_cfg = ModelConfig(vocab_size=len(vocabulary), pad_id=vocabulary.pad, **model)
    train_data = ParallelData(pairs, train_src, train_tgt, vocabulary, model_cfg.max_positions)
    dev_data = ParallelData(pairs, dev_src, dev_tgt, vocabulary, model_cfg.max_positions)
    table = None
    init_digest = model_digest(load_checkpoint(init)["model"]) if init else None
    if masks is not None:
        _, pair_masks, meta = load_masks(masks, pairs, site_widths(model_cfg))
        check_masks_model(masks, meta, init_digest, init)  # the neurons they keep are init's
        table = MaskTable(pair_masks, pairs, device)
        log.info("masks %s (%s): each pair keeps %.1f%% of the neurons on average", masks, meta, 100 * table.active_share())
    arrays = [*train_src, *train_tgt, *dev_src, *dev_tgt]
    # what the run starts from: init by its tensors (a checkpoint's bytes differ at every save), the
    # masks and data by their bytes (written the same at every rerun)
    provenance = {"init_model_digest": init_digest, "masks_sha256": sha256sum(masks) if masks else None,
                  "data_sha256": files_digest([vocab, *arrays, *map(offsets_path, arrays), *dev_references])}
    trainer = Trainer(model_cfg, cfg, train_data, dev_data, [read_lines(r) for r in dev_references],
                      RunFiles.of(checkpoint, card, train_log), init=init, masks_for=table, provenance=provenance,
                      world=world, device=device)
    trainer.train()


def experiment_trainer(exp: str | Path, model_cfg: ModelConfig, cfg: TrainConfig, pairs: list[str], out_dir: str | Path,
                       **kwargs) -> Trainer:
    """A Trainer on an experiment directory's train and dev data, writing its run into ``out_dir``
    (for tools and tests outside the workflow; ``kwargs`` go to ``Trainer``)."""
    exp, out_dir, pairs = str(exp), Path(out_dir), list(pairs)
    vocabulary = Vocabulary.load(layout.vocab(exp))
    data = {split: ParallelData.from_experiment(exp, split, pairs, vocabulary, model_cfg.max_positions)
            for split in ("train", "dev")}
    references = [read_lines(layout.raw(exp, "dev", p, "tgt")) for p in pairs]
    files = RunFiles(out_dir / "checkpoint_best.pt", out_dir / "model.json", out_dir / "train_log.csv")
    return Trainer(model_cfg, cfg, data["train"], data["dev"], references, files, **kwargs)


def declared_files(input, output) -> dict:
    """The files a training rule declares (Snakemake's named ``input`` and ``output``), as
    ``run_training``'s arguments: plain strings and lists, so that they travel to torchrun as JSON."""
    names = ("vocab", "train_src", "train_tgt", "dev_src", "dev_tgt", "dev_references", "init", "masks",
             "checkpoint", "card", "train_log")
    out = {}
    for name in names:
        value = input.get(name) if name in input.keys() else output.get(name)
        if value is not None:
            out[name] = str(value) if isinstance(value, str) else [str(v) for v in value]
    return out
