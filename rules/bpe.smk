# Stage 4: one joint BPE over the training text of all languages, applied to every split.


rule learn_bpe:
    input:
        bpe_train_inputs(),
    output:
        codes=f"{EXP}/bpe/codes",
        vocabs=list(bpe_vocab_paths().values()),
    params:
        files_by_lang=bpe_inputs_by_lang(),
        vocab_paths=bpe_vocab_paths(),
        merges=config["bpe"]["merges"],
        min_frequency=config["bpe"]["min_frequency"],
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
        src=f"{EXP}/bpe/{{split}}.{{pair}}.src",
        tgt=f"{EXP}/bpe/{{split}}.{{pair}}.tgt",
    params:
        threshold=config["bpe"]["vocab_threshold"],
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
