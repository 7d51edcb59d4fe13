"""The config schema and the SAE classes agree on every architecture's hyperparameters."""

import inspect
from dataclasses import fields

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
