"""Data-parallel training with PyTorch's own engine (DDP under ``torchrun``).

A training entry point runs unchanged as one process or under
``torchrun --nproc_per_node=N``: ``World.from_env`` reads torchrun's environment, starts the
process group (NCCL on GPUs, gloo on CPUs) and says which rank this is. Only rank 0 logs and
writes files; every rank reads the same checkpoint to resume, so checkpoints are the same
format whatever the number of processes.

``launch`` is what a rule's script calls: with more than one GPU it re-runs the entry point
under ``torchrun --standalone`` (one node); the entry point and its arguments travel as JSON.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import timedelta

import torch
import torch.distributed as dist

from .checkpoint import pick_device

log = logging.getLogger(__name__)
ENTRY_POINTS = {"train": "neuralloc.train:run_training"}
DEFAULT_TIMEOUT_MIN = 60.0


@dataclass
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0
    owns_group: bool = False  # this World started the process group, so it ends it (``close``)
    control: object = None    # a gloo group for host-side values (the stop flag): no GPU sync
    # The tensors the collectives below reduce, kept for the World's life. A gloo worker thread
    # releases a finished collective's tensors after the caller has moved on; if the caller had
    # dropped its Python tensor by then, the release needs the GIL, and at interpreter exit that
    # aborts the process ("terminate called without an active exception").
    buffers: dict = field(default_factory=dict)

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @classmethod
    def from_env(cls, timeout_min: float = DEFAULT_TIMEOUT_MIN) -> "World":
        """The process group torchrun describes (WORLD_SIZE, RANK, LOCAL_RANK), started if needed.
        ``timeout_min``: how long a rank waits for the others in a collective (rank 0 validates
        and saves while the others wait at a barrier; NCCL's default of 10 minutes is too short
        for the validation of many pairs)."""
        size = int(os.environ.get("WORLD_SIZE", "1"))
        if size <= 1:
            return cls()
        world = cls(int(os.environ["RANK"]), size, int(os.environ.get("LOCAL_RANK", "0")))
        if not dist.is_initialized():
            backend = "nccl" if torch.cuda.is_available() else "gloo"
            if backend == "nccl":
                torch.cuda.set_device(world.local_rank)
            dist.init_process_group(backend, timeout=timedelta(minutes=timeout_min))
            world.owns_group = True
        gloo = dist.get_backend() == "gloo"
        world.control = None if gloo else dist.new_group(backend="gloo", timeout=timedelta(minutes=timeout_min))
        return world

    def device(self, name: str) -> torch.device:
        """The device of this process, decided once: under torchrun on GPUs, cuda:LOCAL_RANK
        (never a probe; an explicit ``cuda:N`` would put every rank on one GPU), else
        ``pick_device(name)``."""
        if self.distributed and name != "cpu" and torch.cuda.is_available():
            if name not in ("auto", "cuda", f"cuda:{self.local_rank}"):
                log.warning("device %s ignored under torchrun: rank %d uses cuda:%d", name, self.rank, self.local_rank)
            return torch.device("cuda", self.local_rank)
        return pick_device(name)

    def sum(self, *values: float, device="cpu") -> list[float]:
        """Sums over ranks (the values themselves when not distributed). On a GPU this waits for
        the queued work: call it where a value must be read anyway (log rows)."""
        if not self.distributed:
            return list(values)
        t = self._buffer(len(values), device)
        t.copy_(torch.tensor(values, dtype=torch.float64))
        dist.all_reduce(t)
        return t.tolist()

    def any(self, flag: bool) -> bool:
        """Whether ``flag`` is true on any rank, through host memory (gloo): no GPU sync."""
        if not self.distributed:
            return flag
        t = self._buffer(1, "cpu")
        t.fill_(float(flag))
        dist.all_reduce(t, group=self.control)
        return bool(t.item())

    def _buffer(self, n: int, device) -> torch.Tensor:
        key = (n, str(device))
        if key not in self.buffers:
            self.buffers[key] = torch.zeros(n, dtype=torch.float64, device=device)
        return self.buffers[key]

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def close(self) -> None:
        """End the process group this World started (every rank, before it exits; a DDP module
        holds the group too: drop it first)."""
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()
        self.owns_group, self.control = False, None


def _resolve(name: str):
    module, func = ENTRY_POINTS[name].split(":")
    return getattr(importlib.import_module(module), func)


def gpu_processes(gpus) -> int:
    """Processes for a job granted ``gpus`` GPUs: one per GPU this machine really has (1 on a CPU)."""
    try:
        gpus = int(gpus)
    except (TypeError, ValueError):
        gpus = 0
    return max(1, min(gpus, torch.cuda.device_count()))


def launch(entry: str, kwargs: dict, nproc: int = 1, log_file: str | None = None) -> None:
    """Run ``ENTRY_POINTS[entry](**kwargs)`` in this process, or under torchrun on ``nproc``
    processes (rank 0 appends to ``log_file``)."""
    if nproc <= 1 or "LOCAL_RANK" in os.environ:
        _resolve(entry)(**kwargs)
        return
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"entry": entry, "kwargs": kwargs, "log": log_file}, f)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           "-m", "neuralloc.distributed", f.name]
    log.info("launching %d processes: %s", nproc, " ".join(cmd))
    try:
        subprocess.run(cmd, check=True)
    finally:
        os.unlink(f.name)


def main(argv: list[str] | None = None) -> None:
    """``python -m neuralloc.distributed ARGS.json`` (what each torchrun process runs)."""
    from .logs import setup_logging

    argv = sys.argv[1:] if argv is None else argv
    with open(argv[0]) as f:
        spec = json.load(f)
    rank0 = os.environ.get("RANK", "0") == "0"
    setup_logging(spec.get("log") if rank0 else None, logging.INFO if rank0 else logging.WARNING, mode="a")
    try:
        _resolve(spec["entry"])(**spec["kwargs"])
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


if __name__ == "__main__":
    main()
