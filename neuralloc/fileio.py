"""Atomic writes, checksums and line-oriented text files.

Every artifact is written to a temporary sibling and renamed into place, so a killed job never
leaves a file that looks finished. Text files are split on ``\\n`` only: verses can hold
characters such as U+0085 that ``str.splitlines`` would treat as line breaks.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Iterable, Iterator


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        publish(tmp, path)
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


def read_lines(path: str | os.PathLike) -> list[str]:
    with open(path, encoding="utf-8", newline="\n") as f:
        return [line[:-1] if line.endswith("\n") else line for line in f]


def write_json(path: str | os.PathLike, value) -> None:
    """Atomically write ``value`` as indented JSON, keys sorted (the same value, the same bytes)."""
    import json

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
    import json

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
