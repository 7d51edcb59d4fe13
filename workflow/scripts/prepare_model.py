"""Resolve a model source into a loadable local checkpoint (GGUF converted once)."""

from saeprobe.config import extraction_layers, sae_entries
from saeprobe.logs import job_logger
from saeprobe.models import check_model_settings, checkpoint_dir, model_facts, prepare_model
from saeprobe.sae_facts import known_sae_inputs

log = job_logger(snakemake.log[0])
log.info("preparing %s", snakemake.params.source)
prepare_model(snakemake.params.source, snakemake.output[0])
# A hub model seen for the first time could not be checked when the workflow
# was parsed: it is checked here, once, before any extraction job loads it.
model_cfg = snakemake.config["models"][snakemake.wildcards.model]
check_model_settings(model_facts(checkpoint_dir(snakemake.output[0])), snakemake.wildcards.model,
                     extraction_layers(model_cfg), model_cfg["chat_template"], known_sae_inputs(sae_entries(model_cfg)))
log.info("done: %s", snakemake.output[0])
