# Stage 2: raw parallel text per pair and split, {split}.{pair}.{src|tgt}.


rule prepare_corpus:
    input:
        files=download_targets(),
    output:
        texts=expand(f"{EXP}/raw/{{split}}.{{pair}}.{{side}}", split=SPLITS, pair=PAIRS, side=SIDES),
        manifest=f"{EXP}/raw/manifest.json",
    params:
        names=list(PLAN),
        config={"pairs": PAIRS, "corpus": config["corpus"]},
    log:
        f"{EXP}/logs/prepare_corpus.log",
    benchmark:
        f"{EXP}/benchmarks/prepare_corpus.tsv"
    threads: 1
    resources:
        mem_mb=4000,
    conda:
        "../envs/neuralloc.yaml"
    script:
        "../workflow_scripts/prepare_corpus.py"
