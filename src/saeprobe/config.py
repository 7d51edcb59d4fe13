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


def check_config(config: dict) -> None:
    for model, model_cfg in config["models"].items():
        names = [s["name"] for s in model_cfg.get("saes", [])]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ConfigError(f"models.{model}.saes: SAE names must be unique, {dupes} repeat")
        for entry in model_cfg.get("saes", []):
            if "pretrained" not in entry and entry.get("k", 0) > entry["width"]:
                raise ConfigError(
                    f"models.{model}.saes[{entry['name']}]: k ({entry['k']}) exceeds width ({entry['width']})"
                )
    datasets = config["datasets"]
    if not datasets.get("reference") and not datasets.get("user_csv_dir"):
        raise ConfigError("datasets: set 'reference' (a list of names or \"all\") or 'user_csv_dir'")
