"""Quality run of the engine outside Snakemake: train one system of a config on its already
encoded data, translate every test pair, score with sacreBLEU, print the per-pair table.

For a lent GPU machine, which has neither Snakemake nor internet: pack the encoded data with
`bench/pack_data.sh`, carry it, and call the package's entry points directly, exactly as the
pretrain, train_individual, translate and score rules do.

    python bench/quality.py configs/bible-m2m.yaml results/bible-m2m --out /tmp/quality \\
        --set train.max_tokens=10800 --set train.max_epochs=20 --set train.valid_bleu_sentences=0
    python bench/quality.py config.yaml results/bible-demo --out /tmp/q --set train.max_updates=20   # CPU smoke run

``--system individual`` trains one bilingual model per pair instead of the Multilingual one.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd

from neuralloc import layout, settings
from neuralloc.config import ConfigError, deep_update, dotted_settings, load_config
from neuralloc.fileio import atomic_open
from neuralloc.scoring import score_system
from neuralloc.train import run_training
from neuralloc.translate import translate_split


def override(assignment: str) -> dict:
    """``a.b=value`` -> {"a": {"b": value}}, the value read as YAML."""
    try:
        return dotted_settings([assignment])
    except ConfigError as e:
        raise argparse.ArgumentTypeError(str(e)) from e


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", type=Path)
    p.add_argument("experiment_dir", type=Path, help="holds data/ (encoded arrays, dict.txt) and raw/ (references)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--system", choices=["multilingual", "individual"], default="multilingual")
    p.add_argument("--split", default="test")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, help="CPU threads (default: the config's train.threads)")
    p.add_argument("--set", dest="overrides", type=override, action="append", default=[],
                   help="override one config key, e.g. train.max_epochs=20 (repeatable)")
    args = p.parse_args()
    overrides: dict = {}
    for o in args.overrides:
        deep_update(overrides, o)
    cfg = load_config(args.config, overrides)
    pairs, exp, out = cfg["pairs"], str(args.experiment_dir), args.out / args.system
    threads = args.threads or cfg["train"]["threads"]
    execution = settings.training_execution(cfg)

    def train(job: dict, model_dir: Path) -> str:
        """One training job, as the pretrain and train_individual rules run it."""
        data = {f"{split}_{side}": [layout.encoded(exp, split, p, side) for p in job["pairs"]]
                for split in ("train", "dev") for side in ("src", "tgt")}
        run_training(**job, **data, vocab=layout.vocab(exp), dev_references=[layout.raw(exp, "dev", p, "tgt") for p in job["pairs"]],
                     checkpoint=str(model_dir / "checkpoint_best.pt"), card=str(model_dir / "model.json"),
                     train_log=str(model_dir / "train_log.csv"), threads=threads, execution=execution)
        return str(model_dir / "checkpoint_best.pt")

    start = time.time()
    if args.system == "multilingual":
        checkpoints = [train(settings.pretrain(cfg, "multilingual", args.seed), out / "model")]
    else:
        checkpoints = [train(settings.train_individual(cfg, pair, args.seed), out / pair) for pair in pairs]
    trained = time.time() - start

    hyps = [str(out / f"{args.split}.{pair}.txt") for pair in pairs]
    translate_split(**settings.translate(cfg, args.system), checkpoints=checkpoints, vocab=layout.vocab(exp),
                    sources=[layout.encoded(exp, args.split, p, "src") for p in pairs], outputs=hyps, threads=threads,
                    **settings.translate_execution(cfg))
    translated = time.time() - start - trained
    scores = out / f"scores.{args.split}.csv"
    score_system(args.system, args.split, args.seed, pairs, hyps, [layout.raw(exp, args.split, p, "tgt") for p in pairs],
                 str(scores))

    table = pd.read_csv(scores)
    summary = {"system": args.system, "config": str(args.config), "overrides": overrides,
               "train_s": round(trained, 1), "translate_s": round(translated, 1),
               "translate_sentences_per_s": round(float(table["sentences"].sum()) / translated, 1),
               "average_bleu": round(float(table["bleu"].mean()), 2)}
    print(table[["pair", "bleu", "chrf", "sentences"]].to_markdown(index=False))
    print(json.dumps(summary))
    with atomic_open(out / "summary.json") as f:
        f.write(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
