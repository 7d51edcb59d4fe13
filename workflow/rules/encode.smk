rule sae_encode:
    input:
        sae=paths.sae_weights(),
        activations=paths.activation_dir(),
    output:
        paths.latents_file(),
    params:
        layer=lambda wc: SAES[wc.model][wc.sae]["layer"],
    priority: CRITICAL_PATH_PRIORITY
    threads: job_threads("sae_encode")
    resources:
        **cluster_resources("sae_encode"),
    # Encodings take seconds: on a cluster they run many to a job.
    group:
        "sae_encodings"
    log:
        paths.job_log("sae_encode"),
    benchmark:
        paths.job_benchmark("sae_encode")
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/encode_sae.py"


use rule sae_encode as sae_encode_ood with:
    input:
        sae=paths.sae_weights(),
        activations=paths.activation_dir(ood=True),
    output:
        paths.latents_file(ood=True),
    threads: job_threads("sae_encode_ood")
    resources:
        **cluster_resources("sae_encode_ood"),
    log:
        paths.job_log("sae_encode_ood"),
    benchmark:
        paths.job_benchmark("sae_encode_ood")
