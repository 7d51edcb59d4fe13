"""Config checks beyond the JSON schema, and typed views of config entries.

The schema (workflow/schemas/config.schema.yaml) checks keys and types; the
checks here relate keys to each other and raise ``ConfigError`` with a
sentence that names the key and the fix. The Snakefile imports this module,
and every cluster job re-parses the Snakefile, so torch is imported lazily.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

from saeprobe.settings import SETTINGS, setting

if TYPE_CHECKING:
    from saeprobe.saes import SparseAutoencoder
    from saeprobe.training import TrainConfig


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class SaeSpec:
    """One SAE to train: architecture hyperparameters plus its training settings."""

    name: str
    layer: int
    architecture: str
    width: int
    hyperparameters: dict
    """Architecture-specific constructor arguments (``k``, ``l1_coefficient``, ...)."""
    train: "TrainConfig"
    corpus: str = "tokens"
    """What it trains on: ``tokens`` (the token corpus) or ``sequences`` (the sequence corpus)."""

    def build(self, d_in: int) -> "SparseAutoencoder":
        from saeprobe.saes import ARCHITECTURES

        return ARCHITECTURES[self.architecture](d_in=d_in, width=self.width, **self.hyperparameters)


def sae_spec(entry: dict) -> SaeSpec:
    """One entry of ``models.<model>.saes``; training keys left out take
    TrainConfig's defaults."""
    from saeprobe.training import TrainConfig

    train_keys = {f.name for f in fields(TrainConfig)}
    train = TrainConfig(**{k: v for k, v in entry.items() if k in train_keys})
    hyper = {k: v for k, v in entry.items() if k not in train_keys | _SPEC_KEYS}
    return SaeSpec(entry["name"], entry["layer"], entry["architecture"], entry["width"], hyper, train,
                   training_corpus(entry))


_SPEC_KEYS = {"name", "layer", "architecture", "width", "corpus"}

SEQUENCE_ARCHITECTURES = ("temporal_matryoshka_batchtopk",)
"""The architectures that train on pairs of a sequence (their class's
``trains_on_pairs``; tests/test_config_schema.py keeps the two in step), named
here because the Snakefile reads it without importing torch."""


def training_corpus(entry: dict) -> str:
    """``tokens`` or ``sequences``: what the SAE entry trains on."""
    default = "sequences" if entry["architecture"] in SEQUENCE_ARCHITECTURES else "tokens"
    return entry.get("corpus", default)


def sequence_trained_saes(config: dict) -> dict[str, list[str]]:
    """Model -> its trained SAEs that train on the sequence corpus."""
    return {model: [s["name"] for s in model_cfg.get("saes", [])
                    if "pretrained" not in s and training_corpus(s) == "sequences"]
            for model, model_cfg in config["models"].items()}


def probed_saes(config: dict) -> dict[str, list[str]]:
    """Model -> the names of its SAEs whose latents the probe stage fits."""
    return _stage_saes({**config, "probes": {"enabled": True, **config.get("probes", {})}}, "probes")


def temporal_saes(config: dict) -> dict[str, list[str]]:
    """Model -> the SAEs the temporal analyses measure (none when they are off)."""
    return _stage_saes(config, "temporal")


def sequence_corpus_layers(config: dict, model: str) -> list[int]:
    """The layers the model's sequence corpus holds: those of the SAEs that
    train on it or are measured over it (none: no corpus is built)."""
    entries = sae_entries(config["models"][model])
    names = set(sequence_trained_saes(config)[model]) | set(temporal_saes(config)[model])
    return sorted({entries[name]["layer"] for name in names})


def sae_entries(model_cfg: dict) -> dict[str, dict]:
    """The model's SAE config entries by name."""
    return {entry["name"]: entry for entry in model_cfg.get("saes", [])}


def extraction_layers(model_cfg: dict) -> list[int]:
    """Layers to extract: the probed layers plus every SAE's layer."""
    return sorted(set(model_cfg["layers"]) | set(sae_layers(model_cfg)))


def sae_layers(model_cfg: dict) -> list[int]:
    return sorted({entry["layer"] for entry in model_cfg.get("saes", [])})


def main_layer(model_cfg: dict) -> int:
    """Where the comparisons are made, and where the settings whose baselines
    do not run at every layer run them: ``main_layer``, else the first SAE's
    layer, else the first probed layer."""
    if "main_layer" in model_cfg:
        return model_cfg["main_layer"]
    saes = model_cfg.get("saes", [])
    return saes[0]["layer"] if saes else model_cfg["layers"][0]


def baseline_layers(model_cfg: dict, setting_name: str) -> list[int]:
    """Where the setting runs its baselines: every probed layer, or the main layer."""
    return list(model_cfg["layers"]) if setting(setting_name).baselines_at_every_layer else [main_layer(model_cfg)]


def probe_settings(config: dict) -> dict[str, dict]:
    """The enabled settings, each with its ``grid`` (a list, or None), ``ks``
    and ``baselines``: the config's keys over the setting's defaults."""
    given = config.get("probes", {}).get("settings", {})
    unknown = sorted(set(given) - set(SETTINGS))
    if unknown:
        raise ConfigError(f"probes.settings: {unknown} are not settings; choose from {list(SETTINGS)}")
    settings = {}
    for name, spec in SETTINGS.items():
        entry = given.get(name, {})
        if not entry.get("enabled", True):
            continue
        unknown = sorted(set(entry) - spec.config_keys)
        if unknown:
            raise ConfigError(f"probes.settings.{name}.{unknown[0]}: the {name} setting has no {unknown[0]}; "
                              "remove the key")
        grid = entry.get("grid", spec.reference_grid)
        settings[name] = {
            "grid": None if grid is None else list(grid),
            "ks": list(entry.get("ks", spec.default_ks)),
            "baselines": list(entry.get("baselines", spec.default_baselines)),
        }
    return settings


def check_yaml_syntax(path) -> None:
    """Raise a ConfigError naming the file, line and column of a YAML syntax error.

    Snakemake's own message for a config it cannot parse names neither, and
    for a ``--configfile`` it is raised before the Snakefile runs, so only the
    Snakefile's own config file gets this check."""
    import yaml

    try:
        with open(path) as fh:
            yaml.safe_load(fh)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        raise ConfigError(f"{path}, line {mark.line + 1}, column {mark.column + 1}: not valid YAML "
                          f"({err.problem or err.context})") from None


def expand_reference_saes(config: dict) -> None:
    """Turn each ``pretrained: {reference: NAME}`` (an SAE named as
    sae-sensitivity names it) into the hub repo and folder it names, in
    place, once its layer and model are checked against the name's."""
    from pathlib import Path

    from saeprobe.sensitivity.sae_names import UnknownReferenceSae, resolve_reference_sae

    for model, model_cfg in config["models"].items():
        for entry in model_cfg.get("saes", []):
            name = entry.get("pretrained", {}).get("reference")
            if name is None:
                continue
            where = f"models.{model}.saes[{entry['name']}].pretrained.reference"
            try:
                reference = resolve_reference_sae(name)
            except UnknownReferenceSae as err:
                raise ConfigError(f"{where}: {err}") from None
            if entry["layer"] != reference.layer:
                raise ConfigError(f"{where}: {name} reads layer {reference.layer}; set layer: {reference.layer}")
            source = str(model_cfg["source"])
            is_hub_id = not source.startswith("pypi-gguf:") and not Path(source).expanduser().exists()
            if is_hub_id and source != reference.model:
                raise ConfigError(f"{where}: {name} is an SAE of {reference.model}, not of this model's "
                                  f"source {source}")
            entry["pretrained"] = {"hub_repo": reference.hub_repo, "hub_path": reference.hub_path}


def check_config(config: dict) -> None:
    for model, model_cfg in config["models"].items():
        if main_layer(model_cfg) not in extraction_layers(model_cfg):
            raise ConfigError(
                f"models.{model}.main_layer: {main_layer(model_cfg)} is neither in layers nor an SAE's layer; "
                "add it to layers"
            )
        names = [s["name"] for s in model_cfg.get("saes", [])]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ConfigError(f"models.{model}.saes: SAE names must be unique, {dupes} repeat")
        for entry in model_cfg.get("saes", []):
            if "pretrained" not in entry and entry.get("k", 0) > entry["width"]:
                raise ConfigError(
                    f"models.{model}.saes[{entry['name']}]: k ({entry['k']}) exceeds width ({entry['width']})"
                )
            if entry.get("architecture") in SEQUENCE_ARCHITECTURES and training_corpus(entry) != "sequences":
                raise ConfigError(f"models.{model}.saes[{entry['name']}].corpus: a {entry['architecture']} SAE "
                                  "trains on pairs of a sequence; set corpus: sequences or leave it out")
    for name, entry in probe_settings(config).items():
        error = entry["grid"] is not None and setting(name).grid_error(entry["grid"])
        if error:
            raise ConfigError(f"probes.settings.{name}.grid: {error}")
    known_rules = [rule for rules in JOB_CLASSES.values() for rule in rules]
    unknown = sorted(set(config.get("resources", {}).get("rules", {})) - set(known_rules))
    if unknown:
        raise ConfigError(f"resources.rules: {unknown} are not rules that run as jobs; choose from {sorted(known_rules)}")
    datasets = config["datasets"]
    if not datasets.get("reference") and not datasets.get("user_csv_dir"):
        raise ConfigError("datasets: set 'reference' (a list of names or \"all\") or 'user_csv_dir'")
    _check_interpretability(config)


def _stage_saes(config: dict, section: str) -> dict[str, list[str]]:
    """Model -> the names of its SAEs that the stage ``section`` reads (none when it is off)."""
    spec = config.get(section, {})
    wanted = spec.get("saes", "all")
    return {model: [s["name"] for s in model_cfg.get("saes", []) if wanted == "all" or s["name"] in wanted]
            if spec.get("enabled") else [] for model, model_cfg in config["models"].items()}


def autointerp_saes(config: dict) -> dict[str, list[str]]:
    """Model -> the names of its SAEs that autointerp interprets (none when it is off)."""
    return _stage_saes(config, "autointerp")


def representation_saes(config: dict) -> dict[str, list[str]]:
    """Model -> the SAEs the representation analyses compare with the residual (none when they are off)."""
    return _stage_saes(config, "representation")


def crossmodal_saes(config: dict) -> dict[str, list[str]]:
    """Model -> the SAEs whose latents are stitched to image features (none when the stage is off)."""
    return _stage_saes(config, "crossmodal")


def multitoken_saes(config: dict) -> dict[str, list[str]]:
    """Model -> the SAEs whose pooled codes are probed (none when multi-token probes are off)."""
    return _stage_saes(config, "multi_token")


def sensitivity_saes(config: dict) -> dict[str, list[str]]:
    """Model -> the names of its SAEs whose feature sensitivity is measured (none when it is off)."""
    return _stage_saes(config, "sensitivity")


def interpreted_saes(config: dict) -> dict[str, list[str]]:
    """Model -> the SAEs that some interpretability stage reads the example windows of."""
    autointerp, sensitivity = autointerp_saes(config), sensitivity_saes(config)
    return {model: [s for s in sae_entries(model_cfg) if s in autointerp[model] or s in sensitivity[model]]
            for model, model_cfg in config["models"].items()}


def interpreted_latents(config: dict, model: str, sae: str) -> int:
    """Latents to sample from ``sae``: as many as the stage that wants most of
    them asks for (each takes the first of the draw)."""
    wanted = [config["autointerp"]["latents"] if sae in autointerp_saes(config)[model] else 0,
              config["sensitivity"]["features"] if sae in sensitivity_saes(config)[model] else 0]
    return max(wanted)


def described_saes(config: dict) -> dict[str, list[str]]:
    """Model -> the interpreted SAEs that kurexi's per-dataset analyses cover."""
    wanted = config.get("autointerp", {}).get("descriptions", {}).get("saes", "all")
    return {model: [s for s in saes if wanted == "all" or s in wanted] for model, saes in autointerp_saes(config).items()}


def described_datasets(config: dict, datasets: list[str], probed: list[str]) -> list[str]:
    """The probed datasets that kurexi's per-dataset analyses cover (none when
    they are off); ``datasets`` are all configured ones, ``probed`` those that
    passed their checks."""
    from saeprobe.datasets import safe_name

    spec = config.get("autointerp", {})
    described = spec.get("descriptions", {})
    if not spec.get("enabled") or not described.get("enabled", True):
        return []
    wanted = described.get("datasets", "all")
    if wanted == "all":
        return list(probed)
    wanted = [safe_name(d) for d in wanted]
    unknown = sorted(set(wanted) - set(datasets))
    if unknown:
        raise ConfigError(f"autointerp.descriptions.datasets: {unknown} are not configured datasets; "
                          f"choose from {sorted(datasets)}")
    return [d for d in probed if d in wanted]


def explainer_settings(config: dict) -> dict:
    """``autointerp.explainer`` with its defaults: the offline explainer is the
    first configured model, Claude's model the current default id."""
    from saeprobe.llm.providers import DEFAULT_CLAUDE_MODEL

    given = config.get("autointerp", {}).get("explainer", {})
    provider = given.get("provider", "offline")
    model = given.get("model") or (next(iter(config["models"])) if provider == "offline" else DEFAULT_CLAUDE_MODEL)
    return {"max_concurrency": 4, "timeout_s": 60, "max_retries": 6, "run_on_cluster": False,
            **given, "provider": provider, "model": model}


def _check_interpretability(config: dict) -> None:
    spec, sensitivity = config.get("autointerp", {}), config.get("sensitivity", {})
    known = {s["name"] for model_cfg in config["models"].values() for s in model_cfg.get("saes", [])}
    temporal = config.get("temporal", {})
    measured = temporal.get("saes", "all") if temporal.get("enabled") else "all"
    mapped = temporal.get("chunk_probing", {}).get("tsne_saes", "all") if temporal.get("enabled") else "all"
    stages = [("probes.saes", config.get("probes", {}).get("saes", "all")), ("temporal.saes", measured),
              ("temporal.chunk_probing.tsne_saes", mapped)]
    stages += [(f"{section}.saes", config[section].get("saes", "all")) for section in ("representation", "crossmodal", "multi_token")
               if config.get(section, {}).get("enabled")]
    for key, names in stages:
        unknown = sorted(set(names) - known) if names != "all" else []
        if unknown:
            raise ConfigError(f"{key}: {unknown} are not configured SAEs; choose from {sorted(known)}")
    if not spec.get("enabled") and not sensitivity.get("enabled"):
        return
    named = []
    if spec.get("enabled"):
        named += [("autointerp.saes", spec.get("saes", "all")),
                  ("autointerp.descriptions.saes", spec.get("descriptions", {}).get("saes", "all"))]
    if sensitivity.get("enabled"):
        named.append(("sensitivity.saes", sensitivity.get("saes", "all")))
    for key, names in named:
        unknown = sorted(set(names) - known) if names != "all" else []
        if unknown:
            raise ConfigError(f"{key}: {unknown} are not configured SAEs; choose from {sorted(known)}")
    explainer = explainer_settings(config)
    if explainer["provider"] == "offline" and explainer["model"] not in config["models"]:
        raise ConfigError(f"autointerp.explainer.model: the offline explainer is one of the configured models "
                          f"{sorted(config['models'])}, not {explainer['model']!r}")


# What a job asks a cluster for, by the kind of work it does. GPU jobs run
# the model or an SAE; CPU jobs fit probes. (Dataset preparation and the
# tables and figures are local rules: they run in the driver.) Memory in MB,
# runtime in minutes; both are multiplied by the attempt number on a retry.
JOB_CLASSES = {
    "gpu": ("model_prepare", "activations_extract", "activations_extract_ood", "activations_corpus_text",
            "sae_train", "sae_import", "sae_reference_cross_entropy", "sae_evaluate", "sae_encode", "sae_encode_ood", "interpret_corpus",
            "interpret_examples", "autointerp_detection", "autointerp_describe", "sensitivity_generate",
            "sensitivity_score", "sequence_corpus", "crossmodal_images", "multitoken_pool", "temporal_smoothness", "chunk_probe", "temporal_alignment"),
    "cpu": ("probe_baselines", "probe_sae", "part_of_speech", "temporal_tsne", "representation_analysis",
            "crossmodal_stitch", "multitoken_probe"),
}
RESOURCE_DEFAULTS = {
    "gpu": {"gres": "gpu:1", "threads": 4, "mem_mb": 32000, "runtime": 60, "slurm_partition": None},
    "cpu": {"gres": None, "threads": 1, "mem_mb": 4000, "runtime": 20, "slurm_partition": None},
}


def job_class(rule: str) -> str:
    for name, rules in JOB_CLASSES.items():
        if rule in rules:
            return name
    raise KeyError(f"rule {rule!r} has no job class; add it to saeprobe.config.JOB_CLASSES")


def job_resources(config: dict, rule: str) -> dict:
    """``rule``'s threads, gres, mem_mb, runtime and slurm_partition: the
    config's ``resources.rules.<rule>`` over ``resources.<class>`` over
    ``RESOURCE_DEFAULTS``."""
    kind = job_class(rule)
    given = config.get("resources", {})
    return {**RESOURCE_DEFAULTS[kind], **given.get(kind, {}), **given.get("rules", {}).get(rule, {})}

