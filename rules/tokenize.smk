# Stage 3: Moses tokenization (reversible, see neuralloc/tokenization.py), training-data length
# filter, and optional truecasing.


rule tokenize:
    input:
        src=f"{EXP}/raw/{{split}}.{{pair}}.src",
        tgt=f"{EXP}/raw/{{split}}.{{pair}}.tgt",
    output:
        src=f"{EXP}/tok/{{split}}.{{pair}}.src",
        tgt=f"{EXP}/tok/{{split}}.{{pair}}.tgt",
    params:
        langs=pair_langs,
        normalize_punct=PRE["normalize_punct"],
        length_filter=length_filter_args,
    log:
        f"{EXP}/logs/tokenize/{{split}}.{{pair}}.log",
    benchmark:
        f"{EXP}/benchmarks/tokenize/{{split}}.{{pair}}.tsv"
    threads: 2
    resources:
        mem_mb=2000,
    conda:
        "../envs/neuralloc.yaml"
    script:
        "../workflow_scripts/tokenize.py"


rule train_truecaser:
    input:
        truecaser_inputs,
    output:
        f"{EXP}/truecase/{{lang}}.model",
    log:
        f"{EXP}/logs/train_truecaser/{{lang}}.log",
    benchmark:
        f"{EXP}/benchmarks/train_truecaser/{{lang}}.tsv"
    threads: 2
    resources:
        mem_mb=4000,
    conda:
        "../envs/neuralloc.yaml"
    script:
        "../workflow_scripts/train_truecaser.py"


rule truecase:
    input:
        unpack(truecase_models),
        src=f"{EXP}/tok/{{split}}.{{pair}}.src",
        tgt=f"{EXP}/tok/{{split}}.{{pair}}.tgt",
    output:
        src=f"{EXP}/tc/{{split}}.{{pair}}.src",
        tgt=f"{EXP}/tc/{{split}}.{{pair}}.tgt",
    log:
        f"{EXP}/logs/truecase/{{split}}.{{pair}}.log",
    benchmark:
        f"{EXP}/benchmarks/truecase/{{split}}.{{pair}}.tsv"
    threads: 2
    resources:
        mem_mb=2000,
    conda:
        "../envs/neuralloc.yaml"
    script:
        "../workflow_scripts/truecase.py"
