"""Checkpoints: written atomically, loaded without unpickling arbitrary objects, averaged.

A checkpoint is a dict of tensors and plain Python values (model and optimizer state, update
counter, RNG states, data position, the model config), saved with ``torch.save`` and loaded
with ``weights_only=True``.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import tempfile
from pathlib import Path

import torch

from .fileio import atomic_path
from .model import ModelConfig, Transformer


log = logging.getLogger(__name__)


class CheckpointError(RuntimeError):
    pass


_CLAIMED: list = []  # (device index, open lock file) of this process: one GPU decision per process


def pick_device(name: str = "auto") -> torch.device:
    """The device of this process; ``auto`` decides once per process and never probes GPU memory
    (which would create a CUDA context on every GPU of the machine):

    - no GPU: the CPU;
    - under torchrun (``LOCAL_RANK``): that rank's GPU;
    - one visible GPU (a SLURM job, ``CUDA_VISIBLE_DEVICES``, a one-GPU machine): that one;
    - several visible GPUs and no scheduler (a workstation): the first GPU no other neuralloc
      process holds (``claim_gpu``), so that jobs started together spread over the GPUs that
      ``--resources gpu=N`` lets them share."""
    if name != "auto":
        return torch.device(name)
    if not torch.cuda.is_available():
        return torch.device("cpu")
    if "LOCAL_RANK" in os.environ:
        return torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    n = torch.cuda.device_count()
    if n == 1:
        return torch.device("cuda", 0)
    if not _CLAIMED:
        _CLAIMED.append(claim_gpu(n))
    return torch.device("cuda", _CLAIMED[0][0])


def gpu_lock_dir() -> Path:
    return Path(tempfile.gettempdir()) / f"neuralloc-gpus-{os.getuid()}"


def claim_gpu(n: int, lock_dir: Path | None = None):
    """(index, open lock file): the first of ``n`` visible GPUs whose lock no other process holds
    (an advisory ``flock``, released when the process ends, however it ends). When every GPU is
    held (more GPU jobs than GPUs), the one of index pid mod n, with a warning."""
    lock_dir = lock_dir or gpu_lock_dir()
    lock_dir.mkdir(parents=True, exist_ok=True)
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")
    for i in range(n):
        physical = visible[i].strip() if i < len(visible) and visible[i].strip() else str(i)
        f = open(lock_dir / f"gpu-{physical}.lock", "w")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            continue
        f.write(str(os.getpid()))
        f.flush()
        return i, f
    i = os.getpid() % n
    log.warning("all %d GPUs are held by other neuralloc jobs; sharing GPU %d (set --resources gpu=%d)", n, i, n)
    return i, None


def model_digest(weights: dict[str, torch.Tensor]) -> str:
    """The identity of a model: sha256 over its tensors' names, dtypes, shapes and values, in name
    order. Not the checkpoint file's sha256: torch.save writes a random serialization id, so the
    same weights saved twice differ in bytes."""
    h = hashlib.sha256()
    for name in sorted(weights):
        t = weights[name].detach().cpu().contiguous()
        h.update(f"{name}\0{t.dtype}\0{tuple(t.shape)}\0".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def save_checkpoint(state: dict, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: str | Path, map_location="cpu") -> dict:
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # truncated file, not a checkpoint, or pickled objects we refuse
        raise CheckpointError(f"{path} is not a readable checkpoint ({type(e).__name__}: {e})") from e
    for key in ("model", "model_config"):
        if key not in state:
            raise CheckpointError(f"{path} lacks '{key}': not a neuralloc checkpoint")
    return state


def load_model(path: str | Path, vocab_size: int | None = None, map_location="cpu") -> tuple[Transformer, dict]:
    """The model of a checkpoint; ``vocab_size`` guards against pairing it with another vocabulary."""
    state = load_checkpoint(path, map_location)
    cfg = ModelConfig(**state["model_config"])
    if vocab_size is not None and cfg.vocab_size != vocab_size:
        raise CheckpointError(
            f"{path} was trained with a vocabulary of {cfg.vocab_size} entries, but the vocabulary "
            f"given has {vocab_size}: checkpoint and data come from different experiments"
        )
    model = Transformer(cfg)
    model.load_state_dict(state["model"])
    return model, state


def load_for_inference(checkpoint: str | Path, vocab_path: str | Path, threads: int = 1):
    """(model in eval mode on the chosen device, vocabulary, device, the checkpoint's record: its
    other keys, with ``model_digest`` the identity of its weights) for a rule's entry point."""
    from .vocab import Vocabulary

    torch.set_num_threads(max(1, threads))
    device = pick_device()
    vocab = Vocabulary.load(vocab_path)
    model, state = load_model(checkpoint, len(vocab))  # read on the CPU: one copy to the device, below
    record = {k: v for k, v in state.items() if k != "model"} | {"model_digest": model_digest(state["model"])}
    return model.to(device).eval(), vocab, device, record


def average_checkpoints(paths: list[str | Path]) -> dict:
    """Element-wise mean of the model parameters of several checkpoints (fairseq's averaging)."""
    if not paths:
        raise CheckpointError("no checkpoints to average")
    states = [load_checkpoint(p) for p in paths]
    avg = {k: v.clone().float() for k, v in states[0]["model"].items()}
    for s in states[1:]:
        if s["model"].keys() != avg.keys():
            raise CheckpointError("checkpoints to average have different parameters")
        for k, v in s["model"].items():
            avg[k] += v.float()
    out = dict(states[-1])
    out["model"] = {k: (v / len(states)).to(states[0]["model"][k].dtype) for k, v in avg.items()}
    out["averaged_from"] = [str(p) for p in paths]
    return out



def main(argv: list[str] | None = None) -> None:
    """``python -m neuralloc.checkpoint --out avg.pt a.pt b.pt ...``: average checkpoints."""
    import argparse
    import sys

    p = argparse.ArgumentParser(description="Average the parameters of checkpoints (e.g. checkpoint{N}.pt kept by train.keep_last).")
    p.add_argument("checkpoints", nargs="+")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    try:
        save_checkpoint(average_checkpoints(args.checkpoints), args.out)
    except CheckpointError as e:
        sys.exit(f"error: {e}")


if __name__ == "__main__":
    main()
