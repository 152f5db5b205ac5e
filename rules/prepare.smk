# Stage 2: raw parallel text per pair and split, {split}.{pair}.{src|tgt}.


rule prepare_corpus:
    input:
        files=[layout.download(DL, name) for name in PLAN],
    output:
        texts=[layout.raw(EXP, split, pair, side) for split, pair, side in text_keys(PAIRS)],
        manifest=layout.manifest(EXP),
    params:
        settings=settings.prepare_corpus(config),
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
