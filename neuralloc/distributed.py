"""Data-parallel training with PyTorch's own engine (DDP under ``torchrun``).

A training entry point runs unchanged as one process or under
``torchrun --nproc_per_node=N``: ``World.from_env`` reads torchrun's environment, starts the
process group (NCCL on GPUs, gloo on CPUs) and says which rank this is. Only rank 0 logs and
writes files; every rank reads the same checkpoint to resume, so checkpoints are the same
format whatever the number of processes.

``launch`` is what a rule's script calls: with more than one GPU it re-runs the entry point
under ``torchrun --standalone`` (one node), and in a SLURM job of several nodes under one torchrun
per node, started by ``srun``; the entry point and its arguments travel as JSON.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import re
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

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
    nodes: list = field(default_factory=list)  # the node of each rank

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
        world.nodes = [None] * size  # where each rank runs (SLURM's node name, else the host's)
        dist.all_gather_object(world.nodes, os.environ.get("SLURMD_NODENAME") or socket.gethostname(),
                               group=world.control)
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


def job_shape(resources) -> tuple[int, int]:
    """(nodes, processes per node) of a rule's job from its Snakemake resources: ``nodes``, and the
    GPUs per node as ``gres: gpu[:model]:G`` says (per node, SLURM's meaning) or ``gpu`` spread
    over the nodes; one process per GPU this node really has, 1 on a CPU."""
    nodes = max(1, int(resources.get("nodes", 1) or 1))
    per_node = re.search(r"gpu(?::[\w.-]+)?:(\d+)", str(resources.get("gres", "") or ""))
    gpus = int(per_node.group(1)) if per_node else int(resources.get("gpu", 0) or 0) // nodes
    return nodes, gpu_processes(gpus)


def slurm_hosts(job_id: str) -> list[tuple[str, str]]:
    """(node name, address) of every node of a SLURM job, in SLURM's order (node 0 first)."""
    def scontrol(*args) -> str:
        return subprocess.run(["scontrol", *args], capture_output=True, text=True, check=True).stdout

    nodelist = re.search(r"\bNodeList=(\S+)", scontrol("show", "job", "-o", job_id)).group(1)
    names = scontrol("show", "hostnames", nodelist).split()
    addresses = [re.search(r"\bNodeAddr=(\S+)", scontrol("show", "node", "-o", n)) for n in names]
    return [(n, a.group(1) if a else n) for n, a in zip(names, addresses)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("", 0))
        return s.getsockname()[1]


def launch(entry: str, kwargs: dict, nproc: int = 1, log_file: str | None = None, nodes: int = 1) -> None:
    """Run ``ENTRY_POINTS[entry](**kwargs)``: in this process; under torchrun on ``nproc`` processes
    of this node; or, in a SLURM job of ``nodes`` nodes, under one torchrun per node started by
    ``srun`` (``nproc`` processes each), with a static rendezvous on the job's first node. Rank 0
    appends to ``log_file``. The entry point and its arguments travel as a JSON file beside the
    log (the shared file system every node sees)."""
    if "LOCAL_RANK" in os.environ or (nproc <= 1 and nodes <= 1):
        _resolve(entry)(**kwargs)
        return
    job_id = os.environ.get("SLURM_JOB_ID")
    if nodes > 1 and not job_id:
        log.warning("nodes: %d asks for a SLURM job of several nodes; outside SLURM this job runs on this node only",
                    nodes)
        nodes = 1
        if nproc <= 1:
            _resolve(entry)(**kwargs)
            return
    where = Path(log_file).parent if log_file else Path.cwd()
    where.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix=".launch-", dir=where, delete=False) as f:
        json.dump({"entry": entry, "kwargs": kwargs, "log": log_file}, f)
    if nodes > 1:
        hosts = slurm_hosts(job_id)
        if len(hosts) < nodes:
            raise RuntimeError(f"the job asks for {nodes} nodes but SLURM job {job_id} holds {len(hosts)}: {hosts}")
        address, port = hosts[0][1], free_port()
        log.info("launching %d nodes x %d processes (%s), rendezvous %s:%d", nodes, nproc,
                 ", ".join(n for n, _ in hosts[:nodes]), address, port)
        cmd = ["srun", f"--jobid={job_id}", f"--nodes={nodes}", f"--ntasks={nodes}", "--ntasks-per-node=1",
               "--kill-on-bad-exit=1", sys.executable, "-m", "neuralloc.distributed", "--node", str(nodes), str(nproc),
               address, str(port), f.name]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
               "-m", "neuralloc.distributed", f.name]
        log.info("launching %d processes: %s", nproc, " ".join(cmd))
    try:
        subprocess.run(cmd, check=True)
    finally:
        os.unlink(f.name)


def node_main(nnodes: str, nproc: str, address: str, port: str, spec: str) -> None:
    """What ``srun`` runs on each node of a multi-node job: torchrun for this node (its rank from
    SLURM_NODEID), its processes running ``python -m neuralloc.distributed SPEC``."""
    from torch.distributed.run import main as torchrun

    torchrun([f"--nnodes={nnodes}", f"--nproc_per_node={nproc}", f"--node_rank={os.environ['SLURM_NODEID']}",
              f"--master_addr={address}", f"--master_port={port}", "-m", "neuralloc.distributed", spec])


def main(argv: list[str] | None = None) -> None:
    """``python -m neuralloc.distributed ARGS.json`` (what each torchrun process runs)."""
    from .logs import setup_logging

    argv = sys.argv[1:] if argv is None else argv
    if argv[0] == "--node":
        node_main(*argv[1:])
        return
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
