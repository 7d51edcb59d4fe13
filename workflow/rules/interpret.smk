# The shared inputs of the interpretability stages (autointerp, sensitivity):
# a token corpus with its activations, and each interpreted SAE's example
# windows over it.


rule interpret_corpus:
    input:
        model=paths.model_dir(),
        datasets=lambda wc: [] if INTERPRET_CORPUS["source"] != PROBE_PROMPTS else [
            paths.dataset_file(d) for d in PROBED_DATASETS],
        texts=[] if INTERPRET_CORPUS["source"] == PROBE_PROMPTS else local_text_source(INTERPRET_CORPUS["source"]),
    output:
        directory(paths.interpretation_corpus_dir()),
    params:
        corpus=INTERPRET_CORPUS,
        layers=lambda wc: sorted({SAES[wc.model][sae]["layer"] for sae in INTERPRETED_SAES[wc.model]}),
        model=model_params,
        seed=config["autointerp"]["seed"],
    threads: job_threads("interpret_corpus")
    resources:
        **cluster_resources("interpret_corpus"),
    log:
        paths.job_log("interpret_corpus"),
    benchmark:
        paths.job_benchmark("interpret_corpus")
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/interpret_corpus.py"


rule interpret_examples:
    input:
        sae=paths.sae_weights(),
        corpus=paths.interpretation_corpus_dir(),
        model=paths.model_dir(),
    output:
        paths.latent_examples_file(),
    params:
        layer=lambda wc: SAES[wc.model][wc.sae]["layer"],
        latents=lambda wc: interpreted_latents(config, wc.model, wc.sae),
        seed=config["autointerp"]["seed"],
    threads: job_threads("interpret_examples")
    resources:
        **cluster_resources("interpret_examples"),
    log:
        paths.job_log("interpret_examples"),
    benchmark:
        paths.job_benchmark("interpret_examples")
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/interpret_examples.py"
