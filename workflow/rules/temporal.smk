# Temporal SAEs (Bhalla, Oesterling et al. 2025): the sequence corpus that
# keeps token order (temporal SAEs train on it; sae_train reads it), and the
# analyses of the measured SAEs over its held-out rows: smoothness, chunk
# probing with a t-SNE map, and the HH-RLHF alignment study.


rule sequence_corpus:
    input:
        model=paths.model_dir(),
        datasets=lambda wc: [paths.dataset_file(d) for d in PROBED_DATASETS]
        if SEQUENCE_CORPUS["source"] == PROBE_PROMPTS else [],
        texts=[] if SEQUENCE_CORPUS["source"] == PROBE_PROMPTS else local_text_source(SEQUENCE_CORPUS["source"]),
    output:
        directory(paths.sequence_shard_dir()),
    params:
        # Each split's own row count, so that resizing one leaves the other's shards alone.
        corpus={key: SEQUENCE_CORPUS[key] for key in ("source", "length", "seed")},
        rows=lambda wc: SEQUENCE_CORPUS[f"{wc.split}_rows"],
        layers=lambda wc: sequence_corpus_layers(config, wc.model),
        num_shards=lambda wc: len(sequence_shards(wc.model, wc.split)),
        max_norm_ratio=CORPUS["max_norm_ratio"],
        model=model_params,
    priority: CRITICAL_PATH_PRIORITY
    threads: job_threads("sequence_corpus")
    resources:
        **cluster_resources("sequence_corpus"),
    log:
        paths.job_log("sequence_corpus"),
    benchmark:
        paths.job_benchmark("sequence_corpus")
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/sequence_corpus.py"


rule temporal_smoothness:
    input:
        sae=paths.sae_weights(),
        heldout=lambda wc: sequence_shards(wc.model, "heldout"),
    output:
        paths.smoothness_file(),
    params:
        layer=lambda wc: SAES[wc.model][wc.sae]["layer"],
    threads: job_threads("temporal_smoothness")
    resources:
        **cluster_resources("temporal_smoothness"),
    log:
        paths.job_log("temporal_smoothness"),
    benchmark:
        paths.job_benchmark("temporal_smoothness")
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/temporal_smoothness.py"


rule smoothness_table:
    input:
        lambda wc: [paths.smoothness_file(wc.model, sae) for sae in TEMPORAL_SAES[wc.model]],
    output:
        report(paths.temporal_table("smoothness"), category="Temporal SAEs",
               labels={"model": "{model}", "table": "smoothness"}),
    localrule: True
    log:
        paths.job_log("smoothness_table"),
    benchmark:
        paths.job_benchmark("smoothness_table")
    conda:
        "../../envs/probes.yaml"
    script:
        "../scripts/temporal_tables.py"


rule figure_smoothness:
    input:
        paths.temporal_table("smoothness"),
    output:
        report(paths.figure(name="smoothness"), caption="../report/smoothness.rst", category="Temporal SAEs",
               labels={"model": "{model}", "figure": "smoothness"}),
    localrule: True
    log:
        paths.job_log("figure_smoothness"),
    benchmark:
        paths.job_benchmark("figure_smoothness")
    conda:
        "../../envs/figures.yaml"
    script:
        "../scripts/plot_temporal.py"


rule part_of_speech:
    input:
        [paths.dataset_file(d) for d in PROBED_DATASETS],
    output:
        table=paths.part_of_speech_table(),
        tagger=paths.part_of_speech_table(".json"),
    threads: job_threads("part_of_speech")
    resources:
        **cluster_resources("part_of_speech"),
    log:
        paths.job_log("part_of_speech"),
    benchmark:
        paths.job_benchmark("part_of_speech")
    conda:
        "../../envs/pos.yaml"
    script:
        "../scripts/part_of_speech.py"


rule chunk_probe:
    input:
        sae=lambda wc: [] if wc.representation == paths.RESIDUAL else [paths.sae_weights(wc.model, wc.representation)],
        activations=[paths.activation_dir(dataset=d) for d in PROBED_DATASETS],
        part_of_speech=paths.part_of_speech_table(),
        heldout=lambda wc: sequence_shards(wc.model, "heldout"),
    output:
        paths.chunk_probe_file(),
    params:
        layer=lambda wc: main_layer(MODELS[wc.model]) if wc.representation == paths.RESIDUAL
        else SAES[wc.model][wc.representation]["layer"],
        settings=CHUNK_PROBING,
    threads: job_threads("chunk_probe")
    resources:
        **cluster_resources("chunk_probe"),
    log:
        paths.job_log("chunk_probe"),
    benchmark:
        paths.job_benchmark("chunk_probe")
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/chunk_probe.py"


rule chunk_probing_table:
    input:
        lambda wc: [paths.chunk_probe_file(wc.model, r) for r in [paths.RESIDUAL, *TEMPORAL_SAES[wc.model]]],
    output:
        report(paths.temporal_table("chunk_probing"), category="Temporal SAEs",
               labels={"model": "{model}", "table": "chunk probing"}),
    localrule: True
    log:
        paths.job_log("chunk_probing_table"),
    benchmark:
        paths.job_benchmark("chunk_probing_table")
    conda:
        "../../envs/probes.yaml"
    script:
        "../scripts/temporal_tables.py"


rule figure_chunk_probing:
    input:
        paths.temporal_table("chunk_probing"),
    output:
        report(paths.figure(name="chunk_probing"), caption="../report/chunk_probing.rst", category="Temporal SAEs",
               labels={"model": "{model}", "figure": "chunk probing"}),
    localrule: True
    log:
        paths.job_log("figure_chunk_probing"),
    benchmark:
        paths.job_benchmark("figure_chunk_probing")
    conda:
        "../../envs/figures.yaml"
    script:
        "../scripts/plot_temporal.py"


rule temporal_tsne:
    input:
        sae=paths.sae_weights(),
        activations=[paths.activation_dir(dataset=d) for d in PROBED_DATASETS],
        part_of_speech=paths.part_of_speech_table(),
        heldout=lambda wc: sequence_shards(wc.model, "heldout"),
    output:
        paths.tsne_file(),
    params:
        layer=lambda wc: SAES[wc.model][wc.sae]["layer"],
        settings=CHUNK_PROBING,
    threads: job_threads("temporal_tsne")
    resources:
        **cluster_resources("temporal_tsne"),
    log:
        paths.job_log("temporal_tsne"),
    benchmark:
        paths.job_benchmark("temporal_tsne")
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/temporal_tsne.py"


rule figure_tsne:
    input:
        paths.tsne_file(),
    output:
        report(paths.figure(name="tsne_{sae}"), caption="../report/tsne.rst", category="Temporal SAEs",
               labels={"model": "{model}", "figure": "t-SNE of {sae}"}),
    localrule: True
    log:
        paths.job_log("figure_tsne"),
    benchmark:
        paths.job_benchmark("figure_tsne")
    conda:
        "../../envs/figures.yaml"
    script:
        "../scripts/plot_temporal.py"


rule temporal_alignment:
    input:
        sae=paths.sae_weights(),
        model=paths.model_dir(),
        pairs=[] if not ALIGNMENT["pairs"] else local_text_source(ALIGNMENT["pairs"]),
        explanations=lambda wc: alignment_explanations(wc),
    output:
        features=paths.alignment_file(),
        lengths=paths.alignment_file(suffix=".json"),
    params:
        layer=lambda wc: SAES[wc.model][wc.sae]["layer"],
        settings=ALIGNMENT,
        model=model_params,
    threads: job_threads("temporal_alignment")
    resources:
        **cluster_resources("temporal_alignment"),
    log:
        paths.job_log("temporal_alignment"),
    benchmark:
        paths.job_benchmark("temporal_alignment")
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/temporal_alignment.py"


rule alignment_table:
    input:
        lambda wc: [paths.alignment_file(wc.model, sae) for sae in TEMPORAL_SAES[wc.model]],
    output:
        report(paths.temporal_table("alignment"), category="Temporal SAEs",
               labels={"model": "{model}", "table": "alignment study"}),
    localrule: True
    log:
        paths.job_log("alignment_table"),
    benchmark:
        paths.job_benchmark("alignment_table")
    conda:
        "../../envs/probes.yaml"
    script:
        "../scripts/temporal_tables.py"
