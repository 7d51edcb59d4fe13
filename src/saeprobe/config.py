"""Config checks beyond the JSON schema, and typed views of config entries.

The schema (workflow/schemas/config.schema.yaml) checks keys and types; the
checks here relate keys to each other and raise ``ConfigError`` with a
sentence that names the key and the fix. The Snakefile imports this module,
and every cluster job re-parses the Snakefile, so torch is imported lazily.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

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
    return SaeSpec(entry["name"], entry["layer"], entry["architecture"], entry["width"], hyper, train)


_SPEC_KEYS = {"name", "layer", "architecture", "width"}


def sae_entries(model_cfg: dict) -> dict[str, dict]:
    """The model's SAE config entries by name."""
    return {entry["name"]: entry for entry in model_cfg.get("saes", [])}


def extraction_layers(model_cfg: dict) -> list[int]:
    """Layers to extract: the probed layers plus every SAE's layer."""
    return sorted(set(model_cfg["layers"]) | set(sae_layers(model_cfg)))


def sae_layers(model_cfg: dict) -> list[int]:
    return sorted({entry["layer"] for entry in model_cfg.get("saes", [])})


def main_layer(model_cfg: dict) -> int:
    """Where settings other than normal run their baselines: ``main_layer``,
    else the first SAE's layer, else the first probed layer."""
    if "main_layer" in model_cfg:
        return model_cfg["main_layer"]
    saes = model_cfg.get("saes", [])
    return saes[0]["layer"] if saes else model_cfg["layers"][0]


# Method names in paths and results tables.
BASELINE_NAMES = ("logreg_l2", "ridge", "pca_logreg", "knn", "xgboost", "mlp")
SAE_METHOD = "sae_topk_l1"
# What each setting runs unless the config says otherwise: the reference's
# grids and k values (Kantamneni et al. 2025; utils_data.py, train_sae_probes.py)
# and its baselines per setting (run_baselines.py), plus the ridge classifier.
SETTING_DEFAULTS = {
    "normal": {"grid": None, "ks": [1, 2, 4, 8, 16, 32, 64, 128, 256, 512], "baselines": list(BASELINE_NAMES)},
    "scarcity": {"grid": "reference", "ks": [16, 128], "baselines": list(BASELINE_NAMES)},
    "imbalance": {"grid": "reference", "ks": [16, 128], "baselines": list(BASELINE_NAMES)},
    "label_noise": {"grid": "reference", "ks": [16, 128], "baselines": ["logreg_l2"]},
    "ood": {"grid": None, "ks": [128], "baselines": ["logreg_l2"]},
}


def probe_settings(config: dict) -> dict[str, dict]:
    """The enabled settings, each with its ``grid`` (a list, or None), ``ks``
    and ``baselines``: the config's keys over ``SETTING_DEFAULTS``."""
    from saeprobe.splits import IMBALANCE_POSITIVE_FRACTIONS, NOISE_FLIP_FRACTIONS, SCARCITY_TRAIN_SIZES

    reference_grids = {"scarcity": SCARCITY_TRAIN_SIZES, "imbalance": IMBALANCE_POSITIVE_FRACTIONS,
                       "label_noise": NOISE_FLIP_FRACTIONS}
    given = config.get("probes", {}).get("settings", {})
    settings = {}
    for name, defaults in SETTING_DEFAULTS.items():
        entry = {**defaults, **given.get(name, {})}
        if not entry.pop("enabled", True):
            continue
        if entry["grid"] == "reference":
            entry["grid"] = list(reference_grids[name])
        elif entry["grid"] is not None and defaults["grid"] is None:
            raise ConfigError(f"probes.settings.{name}.grid: the {name} setting has no grid; remove the key")
        settings[name] = entry
    return settings


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
    for name, entry in probe_settings(config).items():
        grid = entry["grid"] or []
        if name == "scarcity" and any(v < 2 or v != int(v) for v in grid):
            raise ConfigError("probes.settings.scarcity.grid: training sizes must be whole numbers of at least 2")
        if name == "imbalance" and any(not 0 < v < 1 for v in grid):
            raise ConfigError("probes.settings.imbalance.grid: positive fractions must lie strictly between 0 and 1")
        if name == "label_noise" and any(not 0 <= v <= 0.5 for v in grid):
            raise ConfigError("probes.settings.label_noise.grid: flipped fractions must lie in [0, 0.5]")
    known_rules = [rule for rules in JOB_CLASSES.values() for rule in rules]
    unknown = sorted(set(config.get("resources", {}).get("rules", {})) - set(known_rules))
    if unknown:
        raise ConfigError(f"resources.rules: {unknown} are not rules that run as jobs; choose from {sorted(known_rules)}")
    datasets = config["datasets"]
    if not datasets.get("reference") and not datasets.get("user_csv_dir"):
        raise ConfigError("datasets: set 'reference' (a list of names or \"all\") or 'user_csv_dir'")


# What a job asks a cluster for, by the kind of work it does. GPU jobs run
# the model or an SAE; CPU jobs fit probes. (Dataset preparation and the
# tables and figures are local rules: they run in the driver.) Memory in MB,
# runtime in minutes; both are multiplied by the attempt number on a retry.
JOB_CLASSES = {
    "gpu": ("model_prepare", "activations_extract", "activations_extract_ood", "activations_corpus_text",
            "sae_train", "sae_import", "sae_evaluate", "sae_encode", "sae_encode_ood"),
    "cpu": ("probe_baseline", "probe_sae"),
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

