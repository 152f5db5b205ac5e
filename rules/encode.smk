# Stage 5: one shared vocabulary (specials, target-language tags, subwords) and integer-encoded,
# memory-mappable arrays per pair and split.


rule build_vocab:
    input:
        [layout.text(EXP, "bpe", "train", pair, side) for pair in PAIRS for side in SIDES],
    output:
        layout.vocab(EXP),
    params:
        settings=settings.build_vocab(config),
    log:
        f"{EXP}/logs/build_vocab.log",
    benchmark:
        f"{EXP}/benchmarks/build_vocab.tsv"
    threads: 1
    resources:
        mem_mb=2000,
    conda:
        "../envs/neuralloc.yaml"
    script:
        "../workflow_scripts/build_vocab.py"


rule encode:
    input:
        unpack(pair_texts("bpe")),
        vocab=rules.build_vocab.output[0],
    output:
        src=layout.encoded(EXP, "{split}", "{pair}", "src"),
        tgt=layout.encoded(EXP, "{split}", "{pair}", "tgt"),
        offsets=[layout.encoded(EXP, "{split}", "{pair}", side, "offsets") for side in SIDES],
    log:
        f"{EXP}/logs/encode/{{split}}.{{pair}}.log",
    benchmark:
        f"{EXP}/benchmarks/encode/{{split}}.{{pair}}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
    conda:
        "../envs/neuralloc.yaml"
    script:
        "../workflow_scripts/encode.py"
