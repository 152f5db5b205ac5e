# Stage 7: beam-search translation (one job per system and split: the model is loaded once) (post-processed back to raw text) and sacreBLEU scores.


rule translate:
    input:
        unpack(translate_inputs),
        vocab=f"{EXP}/data/dict.txt",
        src=expand(f"{EXP}/data/{{{{split}}}}.{{pair}}.src.tokens.npy", pair=PAIRS),
        offsets=expand(f"{EXP}/data/{{{{split}}}}.{{pair}}.src.offsets.npy", pair=PAIRS),
    output:
        expand(f"{RUN}/translations/{{{{system}}}}/{{{{split}}}}.{{pair}}.txt", pair=PAIRS, allow_missing=True),
    params:
        pairs=PAIRS,
        decode=config["decode"],
        detruecase=PRE["truecase"],
        erase=erasure_params,
    log:
        f"{RUN}/logs/translate/{{system}}.{{split}}.log",
    benchmark:
        f"{RUN}/benchmarks/translate/{{system}}.{{split}}.tsv"
    threads: 1  # small jobs: on a CPU two at a time beat one with two threads
    resources:
        gpu=1,
        mem_mb=8000,
    conda:
        "../envs/neuralloc.yaml"
    script:
        "../workflow_scripts/translate.py"


rule score:
    input:
        hypotheses=expand(f"{RUN}/translations/{{{{system}}}}/{{{{split}}}}.{{pair}}.txt", pair=PAIRS, allow_missing=True),
        references=expand(f"{EXP}/raw/{{{{split}}}}.{{pair}}.tgt", pair=PAIRS),
    output:
        f"{RUN}/scores/{{system}}.{{split}}.csv",
    params:
        pairs=PAIRS,
    log:
        f"{RUN}/logs/score/{{system}}.{{split}}.log",
    benchmark:
        f"{RUN}/benchmarks/score/{{system}}.{{split}}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
    conda:
        "../envs/neuralloc.yaml"
    script:
        "../workflow_scripts/score.py"
