# Cross-modal stitching (kurexi/SAEs; analysis-methods.md §6.7): image
# features once per image source, then per text representation (the
# residual, or an SAE) a ridge map of the datasets' positives into them.


rule crossmodal_images:
    output:
        directory(paths.image_features_dir()),
    params:
        seed=CROSSMODAL["seed"],
        per_class=CROSSMODAL["per_concept"] // 2,
        root=CROSSMODAL["image_root"],
    threads: job_threads("crossmodal_images")
    resources:
        **cluster_resources("crossmodal_images"),
    log:
        paths.job_log("crossmodal_images"),
    benchmark:
        paths.job_benchmark("crossmodal_images")
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/crossmodal_images.py"


rule crossmodal_stitch:
    wildcard_constraints:
        representation=_alternatives([paths.RESIDUAL, *{s for saes in CROSSMODAL_SAES.values() for s in saes}]),
    input:
        unpack(crossmodal_inputs),
    output:
        paths.stitching_file(),
    params:
        layer=lambda wc: crossmodal_layer(wc.model),
        settings=CROSSMODAL,
    threads: job_threads("crossmodal_stitch")
    resources:
        **cluster_resources("crossmodal_stitch"),
    log:
        paths.job_log("crossmodal_stitch"),
    benchmark:
        paths.job_benchmark("crossmodal_stitch")
    conda:
        "../../envs/torch.yaml"
    script:
        "../scripts/crossmodal_stitch.py"


rule crossmodal_table:
    input:
        lambda wc: [paths.stitching_file(wc.model, r) for r in [paths.RESIDUAL, *CROSSMODAL_SAES[wc.model]]],
    output:
        report(paths.stitching_table(), category="Cross-modal stitching", labels={"model": "{model}"}),
    localrule: True
    log:
        paths.job_log("crossmodal_table"),
    benchmark:
        paths.job_benchmark("crossmodal_table")
    conda:
        "../../envs/probes.yaml"
    script:
        "../scripts/crossmodal_table.py"


rule figure_crossmodal:
    input:
        paths.stitching_table(),
    output:
        report(paths.figure(name="crossmodal_stitching"), caption="../report/crossmodal.rst",
               category="Cross-modal stitching", labels={"model": "{model}", "figure": "crossmodal stitching"}),
    localrule: True
    log:
        paths.job_log("figure_crossmodal"),
    benchmark:
        paths.job_benchmark("figure_crossmodal")
    conda:
        "../../envs/figures.yaml"
    script:
        "../scripts/plot_crossmodal.py"
