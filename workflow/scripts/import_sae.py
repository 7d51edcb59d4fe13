"""Load a pretrained SAE (SAELens, dictionary_learning or Gemma Scope), save it in our format with held-out metrics."""

from pathlib import Path

from saeprobe.atomic import write_json
from saeprobe.logs import job_logger
from saeprobe.paths import corpus_file_name
from saeprobe.saes.formats import fetch_pretrained, load_pretrained
from saeprobe.training import ActivationShards, evaluate_sae

log = job_logger(snakemake.log[0], snakemake.threads)
spec = snakemake.params.spec
folder = fetch_pretrained(**spec["pretrained"])
sae = load_pretrained(folder).eval()
data = ActivationShards([Path(f) / corpus_file_name(spec["layer"]) for f in snakemake.input.corpus])
if data.d_in != sae.d_in:
    raise ValueError(f"SAE {spec['name']} reads d_in={sae.d_in} but layer {spec['layer']} has d_model={data.d_in}")
metrics = {"sae": spec["name"], "layer": spec["layer"], "architecture": sae.architecture, "width": sae.width,
           "pretrained": str(folder), **sae.hyperparameters(), **evaluate_sae(sae, data.eval_rows())}
sae.save(Path(snakemake.output.weights).parent)
write_json(snakemake.output.metrics, metrics)
log.info("imported %s from %s; held-out metrics: %s", sae.architecture, folder, metrics)
