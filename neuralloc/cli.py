"""``neuralloc``: the project's tools outside the workflow, one command with subcommands.

    neuralloc translate --experiment results/bible-demo --system multilingual --pair it-en < input.txt
    neuralloc plan configs/bible-m2m.yaml
    neuralloc allocate --pairs it-en,en-it --importance a.safetensors b.safetensors --rho 0.9 --k 0.7 --out m.safetensors
    neuralloc average checkpoint3000.pt checkpoint4000.pt --out averaged.pt

Each subcommand takes ``--help``.
"""

from __future__ import annotations

import argparse
import sys


def translate_main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(
        prog="neuralloc translate",
        description="Translate raw text (one sentence a line) with a system the workflow trained: the same "
                    "tokenization, BPE, model (masks of a Method system, the pair's model of Individual), beam "
                    "search and post-processing as the workflow's translations; on a GPU when there is one.")
    p.add_argument("--experiment", required=True, help="the experiment's folder, e.g. results/bible-demo")
    p.add_argument("--system", required=True,
                   help="a system of the experiment, as its tables and translations/ name it (e.g. multilingual, "
                        "method-te-r0.9-k0.7-pair-paper)")
    p.add_argument("--pair", required=True, help="the direction, e.g. it-en")
    p.add_argument("--seed", type=int, help="the training seed (default: the experiment's first)")
    p.add_argument("input", nargs="?", help="a text file (default: standard input)")
    p.add_argument("--output", help="where to write the translations (default: standard output)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads")
    args = p.parse_args(argv)

    from .fileio import read_lines, write_lines
    from .translate import TranslateError, translate_text

    lines = read_lines(args.input) if args.input else [line.rstrip("\n") for line in sys.stdin]
    try:
        hyps = translate_text(args.experiment, args.system, args.pair, lines, args.seed, args.threads)
    except TranslateError as e:
        sys.exit(f"error: {e}")
    if args.output:
        write_lines(args.output, hyps)
    else:
        sys.stdout.write("".join(h + "\n" for h in hyps))


def _tool(module: str):
    def run(argv: list[str]) -> None:
        import importlib

        importlib.import_module(f"neuralloc.{module}").main(argv)
    return run


COMMANDS = {
    "translate": (translate_main, "translate raw text with a trained system"),
    "plan": (_tool("plan"), "the models a config trains, their size, disk and GPU-hours"),
    "allocate": (_tool("allocate"), "general and specific neurons from importance files (masks)"),
    "average": (_tool("checkpoint"), "average the parameters of checkpoints"),
}


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        width = max(map(len, COMMANDS))
        usage = "usage: neuralloc COMMAND [ARGS...]\n\ncommands:\n" + "".join(
            f"  {name:<{width}}  {what}\n" for name, (_, what) in COMMANDS.items())
        if argv and argv[0] not in ("-h", "--help"):
            sys.exit(f"error: unknown command {argv[0]!r}\n\n{usage}")
        print(usage, end="")
        return
    COMMANDS[argv[0]][0](argv[1:])


if __name__ == "__main__":
    main()
