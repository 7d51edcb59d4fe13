rule sae_train:
    wildcard_constraints:
        sae=_alternatives(TRAINED_SAES),
    input:
        corpus=corpus_inputs,
    output:
        weights="results/{model}/saes/{sae}/sae.safetensors",
        cfg="results/{model}/saes/{sae}/cfg.json",
        metrics="results/{model}/saes/{sae}/metrics.json",
    params:
        spec=lambda wc: SAES[wc.model][wc.sae],
        # Not an output: Snakemake deletes outputs before a rerun, and the
        # checkpoint must survive a killed job so the rerun can resume.
        checkpoint="results/{model}/checkpoints/{sae}.pt",
    threads: job_threads("sae_train")
    resources:
        **cluster_resources("sae_train"),
    log:
        "logs/{model}/saes/{sae}.log",
    benchmark:
        "logs/{model}/saes/{sae}.bench.tsv"
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
        weights="results/{model}/saes/{sae}/sae.safetensors",
        cfg="results/{model}/saes/{sae}/cfg.json",
        metrics="results/{model}/saes/{sae}/metrics.json",
    params:
        spec=lambda wc: SAES[wc.model][wc.sae],
    threads: job_threads("sae_import")
    resources:
        **cluster_resources("sae_import"),
    log:
        "logs/{model}/saes/{sae}.log",
    benchmark:
        "logs/{model}/saes/{sae}.bench.tsv"
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/import_sae.py"


rule sae_evaluate:
    input:
        sae="results/{model}/saes/{sae}/sae.safetensors",
        model="resources/models/{model}",
        corpus=corpus_inputs,
        datasets=expand("resources/datasets/{dataset}.parquet", dataset=DATASETS),
    output:
        "results/{model}/saes/{sae}/quality.json",
    params:
        layer=lambda wc: SAES[wc.model][wc.sae]["layer"],
        model=model_params,
        evaluation=config["sae_evaluation"],
    threads: job_threads("sae_evaluate")
    resources:
        **cluster_resources("sae_evaluate"),
    log:
        "logs/{model}/saes/{sae}.evaluate.log",
    benchmark:
        "logs/{model}/saes/{sae}.evaluate.bench.tsv"
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/evaluate_sae.py"
