rule sae_train:
    wildcard_constraints:
        sae=_alternatives(TRAINED_SAES),
    input:
        unpack(training_corpus_inputs),
    output:
        weights=paths.sae_weights(),
        cfg=paths.sae_config(),
        metrics=paths.sae_training_metrics(),
    params:
        spec=lambda wc: SAES[wc.model][wc.sae],
        # Not an output: Snakemake deletes outputs before a rerun, and the
        # checkpoint must survive a killed job so the rerun can resume.
        checkpoint=paths.sae_checkpoint(),
    priority: CRITICAL_PATH_PRIORITY
    threads: job_threads("sae_train")
    resources:
        **cluster_resources("sae_train"),
    log:
        paths.job_log("sae_train"),
    benchmark:
        paths.job_benchmark("sae_train")
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/train_sae.py"


rule sae_import:
    wildcard_constraints:
        sae=_alternatives(PRETRAINED_SAES),
    input:
        corpus=corpus_inputs,
        source=pretrained_source,
    output:
        weights=paths.sae_weights(),
        cfg=paths.sae_config(),
        metrics=paths.sae_training_metrics(),
    params:
        spec=lambda wc: SAES[wc.model][wc.sae],
    priority: CRITICAL_PATH_PRIORITY
    threads: job_threads("sae_import")
    resources:
        **cluster_resources("sae_import"),
    log:
        paths.job_log("sae_import"),
    benchmark:
        paths.job_benchmark("sae_import")
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/import_sae.py"


rule sae_reference_cross_entropy:
    input:
        model=paths.model_dir(),
        datasets=[paths.dataset_file(dataset) for dataset in PROBED_DATASETS],
    output:
        paths.reference_cross_entropy(),
    params:
        model=lambda wc: {key: MODELS[wc.model][key] for key in ("dtype", "chat_template", "batch_size")},
        evaluation=config["sae_evaluation"],
    threads: job_threads("sae_reference_cross_entropy")
    resources:
        **cluster_resources("sae_reference_cross_entropy"),
    log:
        paths.job_log("sae_reference_cross_entropy"),
    benchmark:
        paths.job_benchmark("sae_reference_cross_entropy")
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/reference_cross_entropy.py"


rule sae_evaluate:
    input:
        sae=paths.sae_weights(),
        model=paths.model_dir(),
        corpus=corpus_inputs,
        datasets=[paths.dataset_file(dataset) for dataset in PROBED_DATASETS],
        reference=lambda wc: paths.reference_cross_entropy(wc.model, SAES[wc.model][wc.sae]["layer"]),
    output:
        paths.sae_quality(),
    params:
        layer=lambda wc: SAES[wc.model][wc.sae]["layer"],
        model=model_params,
        evaluation=config["sae_evaluation"],
    threads: job_threads("sae_evaluate")
    resources:
        **cluster_resources("sae_evaluate"),
    log:
        paths.job_log("sae_evaluate"),
    benchmark:
        paths.job_benchmark("sae_evaluate")
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/evaluate_sae.py"
