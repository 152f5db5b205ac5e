# Stage 4: one joint BPE over the training text of all languages, applied to every split.


rule learn_bpe:
    input:
        unpack(bpe_train_inputs),
    output:
        codes=layout.bpe_codes(EXP),
        vocabs=[layout.bpe_vocab(EXP, lang) for lang in LANGS],
    params:
        settings=settings.learn_bpe(config),
    log:
        f"{EXP}/logs/learn_bpe.log",
    benchmark:
        f"{EXP}/benchmarks/learn_bpe.tsv"
    threads: 1
    resources:
        mem_mb=8000,
    conda:
        "../envs/neuralloc.yaml"
    script:
        "../workflow_scripts/learn_bpe.py"


rule apply_bpe:
    input:
        unpack(bpe_apply_inputs),
    output:
        src=layout.text(EXP, "bpe", "{split}", "{pair}", "src"),
        tgt=layout.text(EXP, "bpe", "{split}", "{pair}", "tgt"),
    params:
        settings=settings.apply_bpe(config),
    log:
        f"{EXP}/logs/apply_bpe/{{split}}.{{pair}}.log",
    benchmark:
        f"{EXP}/benchmarks/apply_bpe/{{split}}.{{pair}}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
    conda:
        "../envs/neuralloc.yaml"
    script:
        "../workflow_scripts/apply_bpe.py"
