rule activations_extract:
    input:
        dataset="resources/datasets/{dataset}.parquet",
        model="resources/models/{model}",
    output:
        directory("results/{model}/activations/{dataset}"),
    params:
        model=model_params,
        corpus_layers=lambda wc: sae_layers(MODELS[wc.model]) if corpus_from_probe_prompts() else [],
        max_norm_ratio=CORPUS["max_norm_ratio"],
    threads: job_threads("activations_extract")
    resources:
        **cluster_resources("activations_extract"),
    log:
        "logs/{model}/activations/{dataset}.log",
    benchmark:
        "logs/{model}/activations/{dataset}.bench.tsv"
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/extract_activations.py"


rule activations_corpus_text:
    input:
        texts=CORPUS["source"],
        model="resources/models/{model}",
    output:
        directory("results/{model}/corpus/shard_{shard}"),
    params:
        model=model_params,
        corpus_layers=lambda wc: sae_layers(MODELS[wc.model]),
        num_shards=CORPUS["num_shards"],
        max_seq_len=CORPUS["max_seq_len"],
        max_norm_ratio=CORPUS["max_norm_ratio"],
    threads: job_threads("activations_corpus_text")
    resources:
        **cluster_resources("activations_corpus_text"),
    log:
        "logs/{model}/corpus/shard_{shard}.log",
    benchmark:
        "logs/{model}/corpus/shard_{shard}.bench.tsv"
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/extract_corpus.py"


use rule activations_extract as activations_extract_ood with:
    input:
        dataset="resources/datasets/ood/{dataset}.parquet",
        model="resources/models/{model}",
    output:
        directory("results/{model}/activations/ood/{dataset}"),
    params:
        model=model_params,
        corpus_layers=[],  # OOD prompts never enter an SAE corpus
        max_norm_ratio=CORPUS["max_norm_ratio"],
    threads: job_threads("activations_extract_ood")
    resources:
        **cluster_resources("activations_extract_ood"),
    log:
        "logs/{model}/activations/ood/{dataset}.log",
    benchmark:
        "logs/{model}/activations/ood/{dataset}.bench.tsv"
