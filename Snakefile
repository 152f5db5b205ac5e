# Importance-based Neuron Allocation for Multilingual NMT (Xie et al., ACL 2021).
# This file is the table of contents: the config, the rule files by stage, the final target.
# Run: snakemake --cores all [--configfile configs/NAME.yaml]

from snakemake.utils import min_version

min_version("9.0")


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/download.smk"
include: "rules/prepare.smk"
include: "rules/tokenize.smk"
include: "rules/bpe.smk"
include: "rules/encode.smk"
include: "rules/train.smk"
include: "rules/method.smk"
include: "rules/evaluate.smk"
include: "rules/tables.smk"
include: "rules/figures.smk"


# Small, quick jobs: on a cluster they run where Snakemake runs instead of waiting in the queue.
localrules:
    all,
    score,
    translation_recipe,
    allocate,
    tables,
    figure_importance,
    figure_importance_correlation,
    figure_allocation,
    figure_k_sweep,
    figure_erasure,
    figure_variants,
    figure_training_curves,


rule all:
    default_target: True
    input:
        all_targets(),


onstart:
    # before the first job (not in dry runs): no run from another working directory may write this
    # experiment directory while this one does (they can share a results_dir)
    from neuralloc.fileio import lock_experiment

    lock_experiment(EXP)


onsuccess:
    # the main table, where everything is, and sample translations per system
    from neuralloc.summary import summary

    print(summary(EXP, FIRST, design.systems(config), PAIRS, SPLIT))
