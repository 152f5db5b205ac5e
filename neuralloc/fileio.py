"""Atomic writes, checksums, line-oriented text files, safetensors files with the same bytes at
every write, and the lock that keeps two workflow runs out of one experiment directory.

Every artifact is written to a temporary sibling and renamed into place, so a killed job never
leaves a file that looks finished. Text files are split on ``\\n`` only: verses can hold
characters such as U+0085 that ``str.splitlines`` would treat as line breaks.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import socket
import struct
import tempfile
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()


class DataError(ValueError):
    """A data file that cannot be used as it is; the message names the file (and the line, pair or
    verse) and what to do."""


# Below this many free bytes, a write that failed is taken for one that found the disk full.
NEARLY_FULL = 1 << 20


def _disk_full(error: BaseException, directory: Path) -> bool:
    """Whether ``error`` (raised while writing into ``directory``) comes from a full disk: an
    ENOSPC anywhere in its chain, or (torch.save says only "unexpected pos") a filesystem with
    next to no space left."""
    e: BaseException | None = error
    while e is not None:
        if isinstance(e, OSError) and e.errno == errno.ENOSPC:
            return True
        e = e.__cause__ or e.__context__
    try:
        st = os.statvfs(directory)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < NEARLY_FULL


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` only if the block succeeds. A
    block that fails on a full disk raises ``OSError(ENOSPC)`` naming ``path``, whatever the writer
    said (torch: "unexpected pos 220736 vs 220624")."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        publish(tmp, path)
    except Exception as e:
        if _disk_full(e, path.parent):  # judged before the partial file goes, while the disk is still full
            free = os.statvfs(path.parent)
            raise OSError(errno.ENOSPC, f"no space left on device: writing {path} failed with "
                          f"{free.f_bavail * free.f_frsize:,} bytes free on its filesystem ({type(e).__name__}: {e}); "
                          "free some space (or move results_dir) and rerun: nothing partial was left") from e
        raise
    finally:
        if tmp.exists():
            tmp.unlink()


def publish(tmp: str | os.PathLike, path: str | os.PathLike) -> None:
    """Rename a finished temporary file to ``path`` with the usual permissions (mkstemp creates
    0600, and some writers, safetensors among them, recreate the file with 0600)."""
    os.chmod(tmp, _FILE_MODE)
    os.replace(tmp, path)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w"):
    """``open`` for writing, atomically (text mode writes UTF-8 with ``\\n`` line ends)."""
    with atomic_path(path) as tmp:
        kwargs = {} if "b" in mode else {"encoding": "utf-8", "newline": "\n"}
        with open(tmp, mode, **kwargs) as f:
            yield f


def sha256sum(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def files_digest(paths: Iterable[str | os.PathLike]) -> str:
    """One sha256 over the contents of ``paths``, in order."""
    h = hashlib.sha256()
    for path in paths:
        h.update(sha256sum(path).encode())
    return h.hexdigest()


def one_line(text: str) -> str:
    """Collapse any line or paragraph separator into a space so one sentence stays one line."""
    return " ".join(text.split("\n")).replace("\r", " ").replace("\u2028", " ").replace("\u2029", " ").strip()


def decode_utf8(data: bytes, where: str) -> str:
    """``data`` as UTF-8 text; bytes that are not say where (``where``: the file or member) and on
    which line."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise DataError(f"{where}: line {line} is not UTF-8 text (byte {data[e.start:e.start + 1]!r} at offset "
                        f"{e.start}: {e.reason}); fix or replace the file") from None


def read_lines(path: str | os.PathLike) -> list[str]:
    """The lines of a UTF-8 text file, split on ``\\n`` only, without their line ends."""
    text = decode_utf8(Path(path).read_bytes(), str(path))
    lines = text.split("\n")
    return lines[:-1] if lines[-1] == "" else lines


def write_json(path: str | os.PathLike, value) -> None:
    """Atomically write ``value`` as indented JSON, keys sorted (the same value, the same bytes)."""
    with atomic_open(path) as f:
        json.dump(value, f, indent=1, sort_keys=True)
        f.write("\n")


def write_lines(path: str | os.PathLike, lines: Iterable[str]) -> int:
    """Atomically write one line per item; returns the number of lines."""
    n = 0
    with atomic_open(path) as f:
        for line in lines:
            if "\n" in line:
                raise ValueError(f"{path}: line {n + 1} contains a newline character")
            f.write(line + "\n")
            n += 1
    return n


def cached_sha256(path: str | Path, cache: str | Path | None = None) -> str:
    """sha256 of ``path``, remembered in the JSON file ``cache`` by (size, mtime): a large file is
    read again only when it may have changed. The digest, not the time stamp, is the file's identity."""
    path = Path(path).resolve()
    st = path.stat()
    key, stamp = str(path), [st.st_size, st.st_mtime_ns]
    known = {}
    if cache is not None and Path(cache).exists():
        try:
            known = json.loads(Path(cache).read_text())
        except (OSError, ValueError):
            known = {}
    if key in known and known[key][0] == stamp:
        return known[key][1]
    digest = sha256sum(path)
    if cache is not None:
        known[key] = [stamp, digest]
        Path(cache).parent.mkdir(parents=True, exist_ok=True)
        with atomic_open(cache) as f:
            json.dump(known, f)
    return digest


# numpy dtype -> safetensors dtype name (the types our artifacts hold)
_SAFETENSORS_DTYPES = {np.dtype(np.bool_): "BOOL", np.dtype(np.uint8): "U8", np.dtype(np.int32): "I32",
                       np.dtype(np.int64): "I64", np.dtype(np.float16): "F16", np.dtype(np.float32): "F32",
                       np.dtype(np.float64): "F64"}


def write_safetensors(path: str | os.PathLike, tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> None:
    """A safetensors file, atomically, whose bytes depend only on ``tensors`` and ``metadata``: the
    header's keys sorted, tensors stored in name order. (The safetensors library writes its header
    from hash maps, so equal tensors and metadata give other bytes at every save.)"""
    header: dict = {"__metadata__": {str(k): str(v) for k, v in metadata.items()}}
    blobs, offset = [], 0
    for name in sorted(tensors):
        array = np.ascontiguousarray(tensors[name])
        if array.dtype not in _SAFETENSORS_DTYPES:
            raise TypeError(f"{path}: {name} holds {array.dtype} values, which this writer does not store")
        data = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": _SAFETENSORS_DTYPES[array.dtype], "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the data starts 8-byte aligned, as the format recommends
    with atomic_open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for data in blobs:
            f.write(data)


_EXPERIMENT_LOCKS: list = []  # the open lock files of this process: held until it exits


class ExperimentLocked(RuntimeError):
    """Another workflow run, from another working directory, writes the experiment directory."""


def lock_experiment(exp: str | os.PathLike) -> None:
    """Keep runs from other working directories out of ``exp`` while this process lives (two working
    directories can share a ``results_dir``; Snakemake locks only its own working directory, and
    lets runs there share an experiment where their outputs do not overlap). Each run holds a shared
    ``flock`` on its working directory's file in ``{exp}/.locks/``, released by the kernel however
    the process ends, and refuses to start while another working directory's file is held. Two runs
    starting at once from two directories may both refuse; never both start."""
    cwd = os.path.realpath(os.getcwd())
    locks = Path(exp) / ".locks"
    locks.mkdir(parents=True, exist_ok=True)
    mine = locks / f"{hashlib.sha256(cwd.encode()).hexdigest()[:16]}.lock"
    f = open(mine, "a+", encoding="utf-8")
    fcntl.flock(f, fcntl.LOCK_SH)  # waits only while another run probes it (below)
    f.seek(0)
    f.truncate()
    f.write(f"pid {os.getpid()} on {socket.gethostname()}, working directory {cwd}\n")
    f.flush()
    _EXPERIMENT_LOCKS.append(f)
    for other in sorted(locks.glob("*.lock")):
        if other == mine:
            continue
        with open(other, "a+", encoding="utf-8") as g:
            try:
                fcntl.flock(g, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                g.seek(0)
                holder = g.read().strip() or "a process"
                raise ExperimentLocked(
                    f"{exp} is being written by a run from another working directory ({holder}); two runs on one "
                    "experiment directory overwrite each other's files. Wait for it to end, or give this run an "
                    "experiment directory of its own (experiment=NAME or results_dir=DIR)") from None
            fcntl.flock(g, fcntl.LOCK_UN)  # not running: nothing to wait for
