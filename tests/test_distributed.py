"""Data-parallel training on the CPU (gloo): two processes under torchrun compute the gradient of
one process over the same global batch, and checkpoints move between the two set-ups."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from toy import make_toy_experiment

from neuralloc.checkpoint import load_checkpoint

FIXTURES = Path(__file__).parent / "fixtures"
PAIRS = ["en-it", "it-en"]


def run_worker(spec: dict, nproc: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(FIXTURES.parent.parent), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, str(FIXTURES / "ddp_worker.py"), json.dumps(spec)]
    if nproc > 1:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"] + cmd[1:]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return make_toy_experiment(tmp_path_factory.mktemp("ddp"), pairs=PAIRS, n_train=80, reverse_pairs=("it-en",))


def test_two_process_gradients_equal_one_process_on_the_global_batch(toy, tmp_path):
    """One process accumulating micro-batches 0 and 1 == two ranks taking one each (1 update)."""
    one = {"root": str(toy), "out": str(tmp_path / "one"), "update_freq": 2, "max_updates": 1, "pairs": PAIRS,
           "grads": str(tmp_path / "one.pt")}
    two = {**one, "out": str(tmp_path / "two"), "update_freq": 1, "grads": str(tmp_path / "two.pt")}
    run_worker(one, 1)
    run_worker(two, 2)
    g1, g2 = torch.load(one["grads"]), torch.load(two["grads"])
    assert g1.keys() == g2.keys() and len(g1) > 10
    for name in g1:
        torch.testing.assert_close(g2[name], g1[name], atol=1e-6, rtol=1e-5, msg=name)
    # the weights after the update agree too, and only rank 0 wrote files
    w1 = load_checkpoint(tmp_path / "one/checkpoint_best.pt")["model"]
    w2 = load_checkpoint(tmp_path / "two/checkpoint_best.pt")["model"]
    for name in w1:
        torch.testing.assert_close(w2[name], w1[name], atol=1e-6, rtol=1e-5)
    kinds = [r.split(",")[0] for r in (tmp_path / "two/train_log.csv").read_text().splitlines()[1:]]
    assert kinds == ["train", "valid", "valid"]  # one row per step and pair, not one per rank


@pytest.mark.parametrize("first,second", [(1, 2), (2, 1)])
def test_checkpoints_resume_across_process_counts(toy, tmp_path, first, second):
    spec = {"root": str(toy), "out": str(tmp_path / "run"), "update_freq": 1, "pairs": PAIRS, "max_updates": 5}
    proc = run_worker({**spec, "interrupt_at": 3}, first)
    assert "stopped at update 3" in proc.stderr
    state = load_checkpoint(tmp_path / "run/resume/last.pt")
    assert state["update"] == 3 and state["batch_in_epoch"] == 3 * first
    proc = run_worker(spec, second)
    assert "resumed from" in proc.stderr
    best = load_checkpoint(tmp_path / "run/checkpoint_best.pt")
    assert best["update"] == 5 and "optimizer" not in best and not (tmp_path / "run/resume").exists()
    updates = [r.split(",")[1] for r in (tmp_path / "run/train_log.csv").read_text().splitlines()[1:] if r.startswith("train")]
    assert updates == ["1", "2", "3", "4", "5"]


def test_collectives_reduce_tensors_the_world_keeps(monkeypatch):
    """A gloo worker thread lets go of a finished collective's tensors after the caller has moved
    on. When the caller's Python tensor was a temporary, letting go needs the GIL, and at
    interpreter exit that aborted rank 1 ("terminate called without an active exception", seen
    in a core dump: ProcessGroupGloo::AsyncWork::~AsyncWork -> take_gil -> pthread_exit). So the
    World reduces only tensors it keeps for its whole life."""
    from neuralloc import distributed

    reduced = []
    monkeypatch.setattr(distributed.dist, "all_reduce", lambda t, group=None: reduced.append(t))
    world = distributed.World(rank=0, size=2)
    for _ in range(3):
        world.sum(1.0, 2.0)
        world.any(False)
    kept = {id(t) for t in world.buffers.values()}
    assert len(reduced) == 6 and {id(t) for t in reduced} <= kept and len(kept) == 2


def test_a_stale_state_is_set_aside_once_by_rank_0_under_torchrun(toy, tmp_path):
    """A rerun after a config change finds a resume state that is not its own: rank 0 alone moves
    it aside (every rank doing so raced: one won, the others died), and both ranks start over."""
    spec = {"root": str(toy), "out": str(tmp_path / "run"), "update_freq": 1, "pairs": PAIRS, "max_updates": 5}
    run_worker({**spec, "interrupt_at": 3}, 2)
    assert (tmp_path / "run/resume/last.pt").exists()
    proc = run_worker({**spec, "lr": 2e-3}, 2)
    assert proc.stderr.count("moved to") == 1 and "resumed from" not in proc.stderr
    assert (tmp_path / "run/resume.stale/last.pt").exists() and not (tmp_path / "run/resume").exists()
    assert load_checkpoint(tmp_path / "run/checkpoint_best.pt")["update"] == 5
