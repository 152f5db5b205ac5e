"""What a job shows on the console and what goes to its log file only: under the workflow only
warnings and one line per finished model reach the console; outside it, everything and a bar."""

import io
import logging
import sys

import pytest
from toy import make_toy_experiment

from neuralloc import logs
from neuralloc.model import ModelConfig
from neuralloc.train import TrainConfig, experiment_trainer


class _Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture
def console(monkeypatch):
    """A terminal as stderr, installed when called (pytest swaps stderr between a test's phases)."""

    def install():
        stream = _Terminal()
        monkeypatch.setattr(sys, "stderr", stream)
        return stream

    yield install
    logging.basicConfig(handlers=[logging.NullHandler()], force=True)


def test_under_the_workflow_the_console_gets_warnings_and_announced_lines_only(monkeypatch, console, tmp_path):
    monkeypatch.setenv(logs.PROGRESS_ENV, "log")
    console = console()
    logs.setup_logging(tmp_path / "job.log")
    log = logging.getLogger("neuralloc.x")
    log.info("update 10 loss 4.2")
    logs.announce(log, "multilingual: trained")
    log.warning("a warning")
    shown = console.getvalue()
    assert "update 10" not in shown and "multilingual: trained" in shown and "a warning" in shown
    assert len(shown.splitlines()) == 2
    kept = (tmp_path / "job.log").read_text()
    assert all(text in kept for text in ("update 10 loss 4.2", "multilingual: trained", "a warning"))
    assert logs.progress(total=3, desc="m").disable  # no bar: the caller logs its progress instead


def test_outside_the_workflow_the_console_gets_everything_and_a_terminal_a_bar(monkeypatch, console, tmp_path):
    monkeypatch.delenv(logs.PROGRESS_ENV, raising=False)
    console = console()
    logs.setup_logging(tmp_path / "job.log")
    logging.getLogger("neuralloc.x").info("update 10 loss 4.2")
    assert "update 10 loss 4.2" in console.getvalue()
    bar = logs.progress(total=3, desc="multilingual")
    assert not bar.disable
    bar.close()


ROWS = [  # a training log's rows (strings, as CsvLog keeps them)
    {"kind": "train", "update": "10", "pair": "", "loss": "5.0", "bleu": ""},
    {"kind": "valid", "update": "10", "pair": "a", "loss": "4.0", "bleu": "2.00"},
    {"kind": "valid", "update": "10", "pair": "b", "loss": "5.0", "bleu": "4.00"},
    {"kind": "valid", "update": "20", "pair": "a", "loss": "3.0", "bleu": "1.00"},
    {"kind": "valid", "update": "20", "pair": "b", "loss": "4.0", "bleu": "2.00"},
]


def test_the_finished_line_gives_the_best_validation_by_the_trainers_metric():
    def mean_loss(results):
        return sum(r["loss"] for r in results.values()) / len(results)

    def minus_bleu(results):
        return -sum(r["bleu"] for r in results.values()) / len(results)

    # by loss: update 20 (mean 3.5 against 4.5); by BLEU: update 10 (mean 3.0 against 1.5)
    assert logs.finished_model("m", 20, 61.4, ROWS, mean_loss) == (
        "m: trained, 20 updates in 61 s; best at update 20: dev loss 3.500, greedy dev BLEU 1.50 (mean of 2 pairs)")
    assert "best at update 10: dev loss 4.500, greedy dev BLEU 3.00" in logs.finished_model("m", 20, 1, ROWS, minus_bleu)
    no_bleu = [{**r, "bleu": ""} for r in ROWS if r["pair"] != "b"]
    assert logs.finished_model("m", 20, 1, no_bleu, mean_loss).endswith("best at update 20: dev loss 3.000")
    assert logs.finished_model("m", 20, 1, ROWS[:1], mean_loss) == "m: trained, 20 updates in 1 s"


def test_a_training_job_under_the_workflow_shows_one_line(monkeypatch, console, tmp_path):
    monkeypatch.setenv(logs.PROGRESS_ENV, "log")
    console = console()
    logs.setup_logging(tmp_path / "train.log")
    root = make_toy_experiment(tmp_path / "toy", n_train=40)
    model = ModelConfig(vocab_size=0, d_model=32, ffn_dim=64, heads=4, encoder_layers=1, decoder_layers=1, dropout=0.0,
                        max_positions=32)
    cfg = TrainConfig(max_tokens=200, max_updates=6, log_interval=2, validate_interval=3, valid_bleu_sentences=2)
    trainer = experiment_trainer(root, model, cfg, ["en-it"], tmp_path / "models" / "individual" / "en-it")
    assert trainer.name == "individual/en-it"
    trainer.train()
    shown = console.getvalue().splitlines()
    assert len(shown) == 1 and "individual/en-it: trained, 6 updates" in shown[0] and "greedy dev BLEU" in shown[0]
    kept = (tmp_path / "train.log").read_text()
    assert kept.count(" loss ") >= 3 and "update 6" in kept  # every logging step, in the log file only


def test_the_workflow_environment_silences_library_bars_too():
    """subword-nmt draws a tqdm bar while it learns BPE; under the workflow's environment no tqdm
    bar draws (tqdm reads TQDM_DISABLE when imported)."""
    import os
    import subprocess

    code = "import sys, tqdm; bar = tqdm.tqdm(range(3)); list(bar); print(bar.disable)"
    env = {**os.environ, **logs.workflow_environment()}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "True" and out.stderr == ""
