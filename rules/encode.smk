# Stage 5: one shared vocabulary (specials, target-language tags, subwords) and integer-encoded,
# memory-mappable arrays per pair and split.


rule build_vocab:
    input:
        expand(f"{EXP}/bpe/train.{{pair}}.{{side}}", pair=PAIRS, side=SIDES),
    output:
        f"{EXP}/data/dict.txt",
    params:
        target_languages=TARGET_LANGS,
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
        src=f"{EXP}/bpe/{{split}}.{{pair}}.src",
        tgt=f"{EXP}/bpe/{{split}}.{{pair}}.tgt",
        vocab=f"{EXP}/data/dict.txt",
    output:
        expand(
            f"{EXP}/data/{{{{split}}}}.{{{{pair}}}}.{{side}}.{{kind}}.npy",
            side=SIDES, kind=("tokens", "offsets"),
        ),
    params:
        prefixes=encoded_prefixes,
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
