# saeprobe: sparse-autoencoder probing of language models.
# Stages, one rule file each: datasets -> model -> activations -> SAE
# training -> encoding -> probes -> tables and figures; interpretation
# (corpus, example windows) -> autointerp, sensitivity; sequence corpus ->
# temporal SAEs and their analyses. Paths come from
# saeprobe.paths, the scheme README.md documents ("What you get").
import shlex
import sys
from pathlib import Path

from snakemake.utils import min_version

min_version("9.0")

# Snakemake writes sys.executable unquoted into the shell commands of script
# and cluster jobs (snakemake/snakemake#2645), so a venv under a path with a
# space (/Users/Jane Doe/...) would break every job: quote it for them (once:
# a quoted path no longer names a file).
if Path(sys.executable).exists():
    sys.executable = shlex.quote(sys.executable)

# The rule files import the saeprobe package from src/. Jobs find it through
# workflow/scripts/saeprobe, a symlink to it: Snakemake puts a script's folder
# on sys.path, so this holds in the venv and under --sdm conda alike.
sys.path.insert(0, str(Path(workflow.basedir) / "src"))


# The local default, unless --configfile names another: Snakemake would
# otherwise merge the two (e.g. add SmolLM2 to the paper-scale run).
if not workflow.overwrite_configfiles:
    from saeprobe.config import check_yaml_syntax

    check_yaml_syntax(Path(workflow.basedir) / "config/config.yaml")

    configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/datasets.smk"
include: "workflow/rules/model.smk"
include: "workflow/rules/activations.smk"
include: "workflow/rules/sae.smk"
include: "workflow/rules/encode.smk"
include: "workflow/rules/probes.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/interpret.smk"
include: "workflow/rules/autointerp.smk"
include: "workflow/rules/sensitivity.smk"
include: "workflow/rules/temporal.smk"
include: "workflow/rules/representation.smk"
include: "workflow/rules/crossmodal.smk"
include: "workflow/rules/multitoken.smk"


rule all_results:
    default_target: True
    localrule: True
    input:
        all_results_targets(),
