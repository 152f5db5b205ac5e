"""The detokenization ceiling on a real experiment: BLEU of the BPE-segmented test references,
post-processed the way model output is, against the raw references; beside it the ceiling of
Moses' own detokenizer on the same tokens (what a plain Moses pipeline would cap at).

    .venv/bin/python bench/ceiling.py results/bible-m2m
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sacremoses import MosesDetokenizer

from neuralloc.fileio import read_lines
from neuralloc.scoring import corpus_scores
from neuralloc.tokenization import postprocess, remove_bpe, strip_joiners


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("experiment_dir", type=Path)
    p.add_argument("--split", default="test")
    args = p.parse_args()
    exp = args.experiment_dir
    print("| pair | target | ours | Moses detokenizer |\n|---|---|---|---|")
    for bpe_file in sorted((exp / "bpe").glob(f"{args.split}.*.tgt")):
        pair = bpe_file.name.split(".")[1]
        lang = pair.split("-")[1]
        refs = read_lines(exp / "raw" / f"{args.split}.{pair}.tgt")
        segmented = read_lines(bpe_file)
        ours = corpus_scores([postprocess(l) for l in segmented], refs)["bleu"]
        moses = MosesDetokenizer(lang)
        plain = [moses.detokenize(strip_joiners(remove_bpe(l)).split()) for l in segmented]
        print(f"| {pair} | {lang} | {ours:.2f} | {corpus_scores(plain, refs)['bleu']:.2f} |")


if __name__ == "__main__":
    main()
