"""The profiles as files: every rule they name exists, placeholders stay placeholders, and the
sbatch call the pinned SLURM plugin builds for a multi-GPU training job is one task holding all
its GPUs (what torchrun inside the job needs), with memory that grows with its GPUs. (How a
workstation's GPU jobs spread over its GPUs: tests/test_gpu_paths.py.)"""

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SLURM = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())


def workflow_rules() -> set[str]:
    return {m for p in (REPO / "rules").glob("*.smk") for m in re.findall(r"^rule (\w+):", p.read_text(), re.M)}


class Resources(dict):
    def __getattr__(self, name):
        return self[name]


class Job:
    def __init__(self, resources: dict, threads: int = 1):
        self.resources, self.threads = Resources(resources), threads
        self.name = "pretrain"


def test_profiles_name_only_real_rules_and_keep_the_placeholders():
    rules = workflow_rules()
    assert set(SLURM["set-resources"]) <= rules
    for overlay in (REPO / "tests/slurm/overlay/config.yaml",):
        assert set(yaml.safe_load(overlay.read_text())["set-resources"]) <= rules
    text = (REPO / "profiles/slurm/config.yaml").read_text()
    for placeholder in ("<account>", "<cpu-partition>", "<gpu-partition>"):
        assert placeholder in text
    for rule in ("pretrain", "finetune", "importance", "translate"):
        assert SLURM["set-resources"][rule]["gpu"] >= 1
    assert SLURM["executor"] == "slurm" and SLURM["slurm-status-command"] == "squeue"


def test_small_jobs_go_to_the_cluster_in_bundles_of_one_gpu_at_most():
    """The text stages and translation are grouped (one SLURM job per bundle); a bundle's width is
    capped per bundle (gpu and mem_mb local in scope), so a bundle of translations holds one GPU and
    the run as a whole is not capped."""
    rules = workflow_rules()
    groups = dict(entry.split("=") for entry in SLURM["groups"])
    components = dict(entry.split("=") for entry in SLURM["group-components"])
    assert {"tokenize", "apply_bpe", "encode", "translate"} <= set(groups) <= rules
    assert set(components) == set(groups.values()) and all(int(n) > 1 for n in components.values())
    assert "gpu=local" in SLURM["set-resource-scopes"] and "gpu=1" in SLURM["resources"]
    assert not {"pretrain", "train_individual", "continue_training", "finetune"} & set(groups)  # long jobs alone


def test_a_four_gpu_training_job_is_one_task_with_four_gpus():
    submit_string = pytest.importorskip("snakemake_executor_plugin_slurm.submit_string")
    utils = pytest.importorskip("snakemake_executor_plugin_slurm.utils")
    resources = {**SLURM["default-resources"], **SLURM["set-resources"]["pretrain"], "gpu": 4,
                 "slurm_partition": "gpu", "slurm_account": "acct"}
    job = Job(resources, threads=2)
    params = {"run_uuid": "uuid", "slurm_logfile": "log", "comment_str": "rule_pretrain", "account": "-A acct",
              "partition": "-p gpu", "workdir": "/work"}
    call = submit_string.get_submit_command(job, params) + utils.set_gres_string(job)
    assert "--ntasks-per-gpu" not in call and "--ntasks=" not in call  # SLURM's default: one task
    assert "--gpus=4" in call and "--cpus-per-gpu=8" in call
    assert "--mem-per-cpu 4000" in call and "--mem " not in call  # 8 CPUs x 4 GB per GPU: memory grows with GPUs


def documented_multinode_block() -> dict:
    """The lines the profile's comment tells a user to put in a training rule for several nodes."""
    lines = re.findall(r"^  #   (\w+): (\S+)", (REPO / "profiles/slurm/config.yaml").read_text(), re.M)
    return {key: yaml.safe_load(value) for key, value in lines}


def test_a_two_node_training_job_holds_both_nodes_and_four_gpus_on_each():
    submit_string = pytest.importorskip("snakemake_executor_plugin_slurm.submit_string")
    utils = pytest.importorskip("snakemake_executor_plugin_slurm.utils")
    block = documented_multinode_block()
    assert set(block) == {"nodes", "gres", "mpi", "tasks", "tasks_per_gpu"}
    pretrain = {k: v for k, v in SLURM["set-resources"]["pretrain"].items() if k != "gpu"}
    resources = {**SLURM["default-resources"], **pretrain, **block, "slurm_partition": "gpu", "slurm_account": "acct"}
    job = Job(resources, threads=2)
    params = {"run_uuid": "uuid", "slurm_logfile": "log", "comment_str": "rule_pretrain", "account": "-A acct",
              "partition": "-p gpu", "workdir": "/work"}
    call = submit_string.get_submit_command(job, params) + utils.set_gres_string(job)
    assert "--nodes=2" in call and "--ntasks=2" in call and "--gres=gpu:4" in call, call
    assert "--ntasks-per-gpu" not in call and "--gpus=" not in call, call
    assert "--cpus-per-gpu=8" in call and "--mem-per-cpu 4000" in call, call


@pytest.mark.parametrize("resources,visible,shape", [
    ({"gpu": 1}, 8, (1, 1)),
    ({"gpu": 4}, 8, (1, 4)),
    ({"gpu": 4}, 0, (1, 1)),  # a CPU machine: one process
    ({"nodes": 2, "gres": "gpu:4"}, 4, (2, 4)),  # gres counts per node
    ({"nodes": 2, "gres": "gpu:a100:2"}, 4, (2, 2)),
    ({"nodes": 2, "gpu": 8}, 4, (2, 4)),  # gpu counts for the whole job
    ({"nodes": 2, "gpu": 0}, 0, (2, 1)),
])
def test_a_jobs_shape_comes_from_its_resources(monkeypatch, resources, visible, shape):
    import torch

    from neuralloc.distributed import job_shape

    monkeypatch.setattr(torch.cuda, "device_count", lambda: visible)
    assert job_shape(resources) == shape
