"""Shared test helpers: a local HTTP server (127.0.0.1 only) and a Snakemake runner."""

from __future__ import annotations

import copy
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "fixtures"))


class FileServer:
    """Serves ``files`` (URL path -> bytes). ``faults`` (URL path -> mode) breaks some of them:
    "error" answers 500, "truncate" announces the full length and sends half, "flaky" answers 500
    once, then the file, "slow" sends it 4 KiB every 0.05 s."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.faults: dict[str, str] = {}
        self.hits: dict[str, int] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                path = self.path.split("?")[0]
                server.hits[path] = server.hits.get(path, 0) + 1
                fault = server.faults.get(path)
                if fault == "error" or (fault == "flaky" and server.hits[path] == 1):
                    self.send_error(500, "internal error")
                    return
                if path not in server.files:
                    self.send_error(404, "not found")
                    return
                body = server.files[path]
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Content-Type", "text/html" if path.endswith("/") else "application/octet-stream")
                self.end_headers()
                if fault == "slow":
                    try:
                        for start in range(0, len(body), 1 << 12):
                            self.wfile.write(body[start:start + (1 << 12)])
                            self.wfile.flush()
                            time.sleep(0.05)
                    except OSError:  # the client gave up
                        pass
                    return
                self.wfile.write(body[: len(body) // 2] if fault == "truncate" else body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def file_server():
    server = FileServer()
    yield server
    server.close()


def run_snakemake(workdir: Path, configfile: Path | list[Path], *args: str, check: bool = True,
                  quiet: bool = True) -> subprocess.CompletedProcess:
    """Run the repository's workflow in ``workdir`` (outputs land there, not in the repo) on one
    config file or several layered; ``quiet=False`` keeps Snakemake's description of every job
    (its rule, files and reason)."""
    files = [str(f) for f in (configfile if isinstance(configfile, list) else [configfile])]
    cmd = [sys.executable, "-m", "snakemake", *args, "-s", str(REPO / "Snakefile"), "-d", str(workdir),
           "--configfile", *files, "--cores", "2", *(["--quiet", "rules"] if quiet else [])]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=workdir)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def changed(config: dict, changes: dict) -> dict:
    """A deep copy of ``config`` with ``changes`` applied; keys are dotted paths (``train.lr``)."""
    config = copy.deepcopy(config)
    for key, value in changes.items():
        node = config
        *parents, last = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return config


def pytest_collection_modifyitems(items):
    """Files with the most end-to-end (``slow``) tests first: `make test` gives each file to one
    worker in this order, and a long file started last would leave the other workers idle."""
    slow: dict[str, int] = {}
    for item in items:
        slow[item.path] = slow.get(item.path, 0) + (item.get_closest_marker("slow") is not None)
    items.sort(key=lambda item: -slow[item.path])  # stable: each file keeps its own order
