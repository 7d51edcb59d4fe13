rule activations_extract:
    input:
        dataset=paths.dataset_file(),
        model=paths.model_dir(),
    output:
        directory(paths.activation_dir()),
    params:
        model=model_params,
        corpus_layers=lambda wc: sae_layers(MODELS[wc.model]) if corpus_from_probe_prompts() else [],
        max_norm_ratio=CORPUS["max_norm_ratio"],
    priority: CRITICAL_PATH_PRIORITY
    threads: job_threads("activations_extract")
    resources:
        **cluster_resources("activations_extract"),
    log:
        paths.job_log("activations_extract"),
    benchmark:
        paths.job_benchmark("activations_extract")
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/extract_activations.py"


rule activations_corpus_text:
    input:
        texts=local_text_source(CORPUS["source"]),
        model=paths.model_dir(),
    output:
        directory(paths.corpus_shard_dir()),
    params:
        source=lambda wc: CORPUS["source"],  # a hub file has no input to take it from
        model=model_params,
        corpus_layers=lambda wc: sae_layers(MODELS[wc.model]),
        num_shards=CORPUS["num_shards"],
        max_seq_len=CORPUS["max_seq_len"],
        max_norm_ratio=CORPUS["max_norm_ratio"],
    priority: CRITICAL_PATH_PRIORITY
    threads: job_threads("activations_corpus_text")
    resources:
        **cluster_resources("activations_corpus_text"),
    log:
        paths.job_log("activations_corpus_text"),
    benchmark:
        paths.job_benchmark("activations_corpus_text")
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/extract_corpus.py"


use rule activations_extract as activations_extract_ood with:
    input:
        dataset=paths.dataset_file(ood=True),
        model=paths.model_dir(),
    output:
        directory(paths.activation_dir(ood=True)),
    params:
        model=model_params,
        corpus_layers=[],  # OOD prompts never enter an SAE corpus
        max_norm_ratio=CORPUS["max_norm_ratio"],
    threads: job_threads("activations_extract_ood")
    resources:
        **cluster_resources("activations_extract_ood"),
    log:
        paths.job_log("activations_extract_ood"),
    benchmark:
        paths.job_benchmark("activations_extract_ood")
