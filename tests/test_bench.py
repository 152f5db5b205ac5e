"""The GPU check's pieces run here, so that a lent GPU's minutes are not spent on a typo: the
speed script on a toy experiment with the tiny preset, the shell script's syntax, the job-time table."""

import json
import os
import subprocess
import sys
from pathlib import Path

from toy import make_toy_experiment

REPO = Path(__file__).resolve().parents[1]
FIGURES = ("train_target_tokens_per_s", "first_epoch_over_steady", "beam4_sentences_per_s", "masked_over_unmasked",
           "importance_over_training", "mfu", "ts_over_multilingual", "adapter_over_multilingual", "device")


def run(*args, **kw):
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, *map(str, args)], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=600, **kw)


def test_the_speed_script_writes_every_figure(tmp_path):
    root = make_toy_experiment(tmp_path / "toy", pairs=("en-it", "it-en"), n_train=150, n_dev=10)
    out = tmp_path / "speed.json"
    proc = run("bench/gpu_speed.py", root, "--out", out, "--preset", "tiny", "--max-tokens", "300", "--epoch-updates", "6",
               "--updates", "3", "--flop-batches", "2", "--decode-sentences", "5", "--importance-tokens", "300")
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert all(k in result for k in FIGURES), sorted(result)
    assert result["mfu"] is None and result["peak_bf16_flops"] is None  # no GPU: no peak to compare with
    for k in FIGURES[:5] + FIGURES[6:8]:
        assert result[k] > 0, k
    assert result["train_flops_per_target_token"] > 6 * result["parameters"] * 0.1  # forward + backward of the model


def test_the_gpu_check_script_parses():
    proc = subprocess.run(["bash", "-n", str(REPO / "bench/gpu_check.sh")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_job_times_lists_every_benchmark_file(tmp_path):
    for rel, seconds in (("benchmarks/tokenize/train.it-en.tsv", 1.5), ("seed1/benchmarks/pretrain/multilingual.tsv", 30.25)):
        path = tmp_path / rel
        path.parent.mkdir(parents=True)
        path.write_text(f"s\th:m:s\tmax_rss\n{seconds}\t0:00:01\t12.5\n")
    proc = run("bench/job_times.py", tmp_path)
    lines = proc.stdout.splitlines()
    assert lines[0].split("\t") == ["rule", "job", "seconds", "max_rss_mb"]
    assert lines[1:] == ["pretrain\tseed1/multilingual\t30.2\t12.5", "tokenize\ttrain.it-en\t1.5\t12.5",
                         "all\t2 jobs\t31.8\t"]


def test_the_scale_script_prints_every_figure_and_exposes_its_functions():
    proc = run("bench/scale_compute.py", "--pairs", "2", "6", "--sentences", "40", "--train-sentences", "300")
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [line.strip("|").split("|") for line in proc.stdout.splitlines()[2:]]
    assert [int(r[0]) for r in rows] == [2, 6]
    for row in rows:
        assert all(float(cell.replace(",", "")) >= 0 for cell in row[1:]), row
    code = ("import scale_compute as s; print(s.synthetic_pairs(6)); "
            "print(s.allocation_seconds(2) > 0, s.tables_seconds(2, 20) > 0, s.data_memory_mb(2, 100) < 50)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO / "bench", capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": f"{REPO}:{REPO / 'bench'}", "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.splitlines() == ["['x00-x01', 'x01-x00', 'x00-x02', 'x01-x02', 'x02-x00', 'x02-x01']",
                                        "True True True"]


def test_the_job_count_script_counts_bundles_and_gpu_jobs_by_hand():
    """bench/scale.py on English -> 2 targets: the importance jobs are one per model, reading and
    measure; translations go to SLURM in bundles of 11, so 33 translate jobs make 3 GPU jobs."""
    proc = run("bench/scale.py", "--o2m", "2", "--m2m")
    assert proc.returncode == 0, proc.stderr[-3000:]
    row = next(line for line in proc.stdout.splitlines() if line.startswith("| o2m | 2 |"))
    header = next(line for line in proc.stdout.splitlines() if line.startswith("| setting |"))
    values = dict(zip([c.strip() for c in header.strip("|").split("|")], [v.strip() for v in row.strip("|").split("|")]))
    assert values["importance"] == "3" and values["translate"] == "33" and values["individual"] == "2"
    # 4 pretrainings + continued + 3 importance + 28 fine-tunings + 33 translations in bundles of 11
    assert values["gpu_jobs"] == str(4 + 1 + 3 + 28 + 3)
