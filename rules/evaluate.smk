# Stage 7: beam-search translation (one job per system and split: the model is loaded once),
# post-processed back to raw text, and sacreBLEU scores.


rule translate:
    input:
        unpack(translate_inputs),
        vocab=rules.build_vocab.output[0],
        sources=[layout.encoded(EXP, "{split}", pair, "src") for pair in PAIRS],
        offsets=[layout.encoded(EXP, "{split}", pair, "src", "offsets") for pair in PAIRS],
    output:
        [layout.translations(RUN, "{system}", "{split}", pair) for pair in PAIRS],
    params:
        settings=translate_settings,
    log:
        f"{RUN}/logs/translate/{{system}}.{{split}}.log",
    benchmark:
        f"{RUN}/benchmarks/translate/{{system}}.{{split}}.tsv"
    threads: 1  # small jobs: on a CPU two at a time beat one with two threads
    resources:
        gpu=1,
        mem_mb=8000,
        runtime=translate_runtime,  # minutes, grown with pairs x sentences x beam
    conda:
        "../envs/neuralloc.yaml"
    script:
        "../workflow_scripts/translate.py"


rule translation_recipe:
    # what `neuralloc translate` needs to translate new text as the workflow does
    output:
        layout.translation_recipe(EXP),
    params:
        settings=settings.translation_recipe(config),
    log:
        f"{EXP}/logs/translation_recipe.log",
    conda:
        "../envs/neuralloc.yaml"
    script:
        "../workflow_scripts/translation_recipe.py"


rule score:
    input:
        hypotheses=rules.translate.output,
        references=[layout.raw(EXP, "{split}", pair, "tgt") for pair in PAIRS],
    output:
        layout.scores(RUN, "{system}", "{split}"),
    params:
        settings=score_settings,
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
