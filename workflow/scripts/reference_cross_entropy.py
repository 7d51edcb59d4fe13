"""The SAE-free passes of the CE evaluation at one layer: the clean and the zero-ablated model."""

from saeprobe.atomic import write_json
from saeprobe.logs import job_logger
from saeprobe.models import checkpoint_dir, load_model
from saeprobe.splicing import REFERENCE_PASSES, CrossEntropySplicer, evaluation_texts

log = job_logger(snakemake.log[0], snakemake.threads)
layer = int(snakemake.wildcards.layer)
settings = snakemake.params.model
evaluation = snakemake.params.evaluation
texts = evaluation_texts(snakemake.input.datasets, evaluation["ce_texts"], evaluation["seed"])
model, tokenizer = load_model(checkpoint_dir(snakemake.input.model), settings["dtype"])
splicer = CrossEntropySplicer(model, tokenizer, layer, evaluation["ce_max_seq_len"], settings["batch_size"],
                              settings["chat_template"])
reference = {"layer": layer, "texts": len(texts), **splicer.cross_entropies(texts, passes=REFERENCE_PASSES)}
write_json(snakemake.output[0], reference)
log.info("%s", reference)
