rule model_prepare:
    output:
        directory("resources/models/{model}"),
    params:
        source=lambda wc: MODELS[wc.model]["source"],
    threads: job_threads("model_prepare")
    resources:
        **cluster_resources("model_prepare"),
    log:
        "logs/{model}/model_prepare.log",
    benchmark:
        "logs/{model}/model_prepare.bench.tsv"
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/prepare_model.py"
