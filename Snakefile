# saeprobe: sparse-autoencoder probing of language models.
# Stages, one rule file each: datasets -> model -> activations -> SAE
# training -> encoding -> probes -> tables and figures. Paths follow the
# scheme documented in README.md ("Outputs").
import os
import sys
from pathlib import Path

from snakemake.utils import min_version

min_version("9.0")

# Jobs import the saeprobe package from src/, in the project venv and under
# --software-deployment-method conda alike.
_SRC = str(Path(workflow.basedir) / "src")
sys.path.insert(0, _SRC)
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (_SRC, os.environ.get("PYTHONPATH")) if p)


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


rule all_results:
    default_target: True
    localrule: True
    input:
        all_results_targets(),
