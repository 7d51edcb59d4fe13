# Representation analyses (kurexi/SAEs; analysis-methods.md §6.2-6.4): SAE
# latents against the residual's dense directions. One job per
# representation, the residual or an SAE, over every probed dataset; the
# tables join them, one figure each.


rule representation_analysis:
    wildcard_constraints:
        representation=_alternatives([paths.RESIDUAL, *{s for saes in REPRESENTATION_SAES.values() for s in saes}]),
    input:
        unpack(representation_inputs),
    output:
        **{name: paths.representation_file(name=name) for name in paths.REPRESENTATION_FILES},
    params:
        layers=representation_layers,
        settings=REPRESENTATION,
        engine=config["probes"]["engine"],
    threads: job_threads("representation_analysis")
    resources:
        **cluster_resources("representation_analysis"),
    log:
        paths.job_log("representation_analysis"),
    benchmark:
        paths.job_benchmark("representation_analysis")
    conda:
        "../../envs/probes.yaml"
    script:
        "../scripts/representation_analysis.py"


rule representation_tables:
    input:
        # per representation, its REPRESENTATION_FILES in that order; and the groups file, if one is given
        unpack(lambda wc: {representation: [paths.representation_file(wc.model, representation, name)
                                            for name in paths.REPRESENTATION_FILES]
                           for representation in representations(wc)}),
        groups=[REPRESENTATION["dataset_groups"]] if REPRESENTATION["dataset_groups"] else [],
    output:
        **{name: report(paths.representation_table(name), category="Representation analyses",
                        labels={"model": "{model}", "table": name})
           for name in paths.REPRESENTATION_TABLES},
    params:
        representations=representations,
        groups=REPRESENTATION["dataset_groups"],
    localrule: True
    log:
        paths.job_log("representation_tables"),
    benchmark:
        paths.job_benchmark("representation_tables")
    conda:
        "../../envs/probes.yaml"
    script:
        "../scripts/representation_tables.py"


rule figure_representation:
    wildcard_constraints:
        name=_alternatives(paths.REPRESENTATION_FIGURES),
    input:
        lambda wc: paths.representation_table(wc.name, wc.model),
    output:
        report(paths.figure(), caption="../report/representation.rst", category="Representation analyses",
               labels={"model": "{model}", "figure": "{name}"}),
    localrule: True
    log:
        paths.job_log("figure_representation"),
    benchmark:
        paths.job_benchmark("figure_representation")
    conda:
        "../../envs/figures.yaml"
    script:
        "../scripts/plot_representation.py"
