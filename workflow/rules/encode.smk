rule sae_encode:
    input:
        sae="results/{model}/saes/{sae}/sae.safetensors",
        activations="results/{model}/activations/{dataset}",
    output:
        "results/{model}/latents/{sae}/{dataset}.npz",
    params:
        layer=lambda wc: SAES[wc.model][wc.sae]["layer"],
    threads: job_threads("sae_encode")
    resources:
        **cluster_resources("sae_encode"),
    # Encodings take seconds: on a cluster they run many to a job.
    group:
        "sae_encodings"
    log:
        "logs/{model}/latents/{sae}/{dataset}.log",
    benchmark:
        "logs/{model}/latents/{sae}/{dataset}.bench.tsv"
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/encode_sae.py"


use rule sae_encode as sae_encode_ood with:
    input:
        sae="results/{model}/saes/{sae}/sae.safetensors",
        activations="results/{model}/activations/ood/{dataset}",
    output:
        "results/{model}/latents/{sae}/ood/{dataset}.npz",
    threads: job_threads("sae_encode_ood")
    resources:
        **cluster_resources("sae_encode_ood"),
    log:
        "logs/{model}/latents/{sae}/ood/{dataset}.log",
    benchmark:
        "logs/{model}/latents/{sae}/ood/{dataset}.bench.tsv"
