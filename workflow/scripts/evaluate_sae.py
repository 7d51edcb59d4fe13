"""SAE quality: held-out reconstruction metrics and the fraction of CE loss recovered."""

from pathlib import Path

from saeprobe.atomic import read_json, write_json
from saeprobe.logs import job_logger
from saeprobe.models import checkpoint_dir, load_model
from saeprobe.paths import corpus_file_name
from saeprobe.saes import load_sae
from saeprobe.splicing import CrossEntropySplicer, evaluation_texts, spliced_quality
from saeprobe.training import ActivationShards, evaluate_sae

log = job_logger(snakemake.log[0], snakemake.threads)
layer = snakemake.params.layer
settings = snakemake.params.model
evaluation = snakemake.params.evaluation
sae = load_sae(Path(snakemake.input.sae).parent).eval()
data = ActivationShards([Path(f) / corpus_file_name(layer) for f in snakemake.input.corpus])
quality = {"sae": snakemake.wildcards.sae, "layer": layer, "architecture": sae.architecture, "width": sae.width,
           **sae.hyperparameters(), **evaluate_sae(sae, data.eval_rows())}

texts = evaluation_texts(snakemake.input.datasets, evaluation["ce_texts"], evaluation["seed"])
model, tokenizer = load_model(checkpoint_dir(snakemake.input.model), settings["dtype"])
sae.to(next(model.parameters()).device)
splicer = CrossEntropySplicer(model, tokenizer, layer, evaluation["ce_max_seq_len"], settings["batch_size"],
                              settings["chat_template"])
spliced = splicer.cross_entropies(texts, sae, passes=("spliced",))
quality |= spliced_quality(read_json(snakemake.input.reference), spliced)
write_json(snakemake.output[0], quality)
log.info("%s", quality)
