# Stage 3: Moses tokenization (reversible, see neuralloc/tokenization.py), training-data length
# filter, and optional truecasing.


rule tokenize:
    input:
        src=layout.raw(EXP, "{split}", "{pair}", "src"),
        tgt=layout.raw(EXP, "{split}", "{pair}", "tgt"),
    output:
        src=layout.text(EXP, "tok", "{split}", "{pair}", "src"),
        tgt=layout.text(EXP, "tok", "{split}", "{pair}", "tgt"),
    params:
        settings=tokenize_settings,
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
        layout.truecaser(EXP, "{lang}"),
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
        unpack(pair_texts("tok")),
    output:
        src=layout.text(EXP, "tc", "{split}", "{pair}", "src"),
        tgt=layout.text(EXP, "tc", "{split}", "{pair}", "tgt"),
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
