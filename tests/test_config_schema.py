"""The config schema and the SAE classes agree on every architecture's hyperparameters."""

import inspect
from dataclasses import fields

import pytest
import yaml

import saeprobe.saes  # noqa: F401
from saeprobe.saes import ARCHITECTURES
from saeprobe.training import TrainConfig
from workflow_helpers import REPO

SPEC_KEYS = {"name", "layer", "architecture", "width"}


def schema_keys_by_architecture() -> dict[str, set[str]]:
    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    trained = schema["$defs"]["trained_sae"]
    keys = {}
    for rule in trained["allOf"]:
        names = rule["then"].get("propertyNames", {}).get("enum")
        if names is None:
            continue
        condition = rule["if"]["properties"]["architecture"]
        for arch in condition.get("enum", [condition.get("const")]):
            keys[arch] = set(names)
    return keys


def test_every_architecture_is_in_the_schema_with_exactly_its_keyword_arguments():
    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    trained = schema["$defs"]["trained_sae"]
    assert set(trained["properties"]["architecture"]["enum"]) == set(ARCHITECTURES)
    train_keys = {f.name for f in fields(TrainConfig)}
    for arch, allowed in schema_keys_by_architecture().items():
        params = set(inspect.signature(ARCHITECTURES[arch].__init__).parameters) - {"self", "d_in", "width"}
        assert allowed == SPEC_KEYS | train_keys | params, arch
        assert allowed <= set(trained["properties"]), arch
    assert set(schema_keys_by_architecture()) == set(ARCHITECTURES)


def test_settings_and_baselines_agree_between_schema_config_and_probing():
    from saeprobe.config import BASELINE_NAMES, SETTING_DEFAULTS
    from saeprobe.probing import BASELINES, SETTINGS

    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    settings = schema["properties"]["probes"]["properties"]["settings"]["properties"]
    assert list(settings) == list(SETTING_DEFAULTS) == list(SETTINGS)
    enum = schema["$defs"]["setting"]["properties"]["baselines"]["items"]["enum"]
    assert enum == list(BASELINE_NAMES) == list(BASELINES)


def test_probe_settings_fill_the_reference_defaults():
    from saeprobe.config import probe_settings

    settings = probe_settings({"probes": {"settings": {"ood": {"enabled": False}, "scarcity": {"grid": [4, 8]}}}})
    assert list(settings) == ["normal", "scarcity", "imbalance", "label_noise"]
    assert settings["scarcity"] == {"grid": [4, 8], "ks": [16, 128], "baselines": list(settings["normal"]["baselines"])}
    assert len(settings["imbalance"]["grid"]) == 19 and settings["label_noise"]["baselines"] == ["logreg_l2"]
    assert settings["normal"]["ks"] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]


@pytest.mark.parametrize("probes, named", [
    ({"settings": {"normal": {"grid": [1]}}}, "probes.settings.normal.grid"),
    ({"settings": {"scarcity": {"grid": [1.5]}}}, "probes.settings.scarcity.grid"),
    ({"settings": {"imbalance": {"grid": [1.0]}}}, "probes.settings.imbalance.grid"),
    ({"settings": {"label_noise": {"grid": [0.6]}}}, "probes.settings.label_noise.grid"),
])
def test_bad_grids_are_named(probes, named):
    from saeprobe.config import ConfigError, check_config

    config = {"models": {}, "datasets": {"reference": ["x"]}, "probes": probes}
    with pytest.raises(ConfigError, match=named):
        check_config(config)


def test_main_layer_defaults_and_must_be_extracted():
    from saeprobe.config import ConfigError, check_config, main_layer

    assert main_layer({"layers": [3, 7]}) == 3
    assert main_layer({"layers": [3, 7], "saes": [{"name": "s", "layer": 5}]}) == 5
    config = {"models": {"m": {"layers": [3], "main_layer": 4}}, "datasets": {"reference": ["x"]}}
    with pytest.raises(ConfigError, match="models.m.main_layer"):
        check_config(config)
