rule model_prepare:
    output:
        directory(paths.model_dir()),
    params:
        source=lambda wc: MODELS[wc.model]["source"],
    threads: job_threads("model_prepare")
    resources:
        **cluster_resources("model_prepare"),
    log:
        paths.job_log("model_prepare"),
    benchmark:
        paths.job_benchmark("model_prepare")
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/prepare_model.py"
