"""The config schema and the SAE classes agree on every architecture's hyperparameters."""

import inspect
from dataclasses import fields

import pytest
import yaml

import saeprobe.saes  # noqa: F401
from saeprobe.saes import ARCHITECTURES
from saeprobe.training import TrainConfig
from workflow_helpers import REPO

SPEC_KEYS = {"name", "layer", "architecture", "width", "corpus"}


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


def test_baselines_agree_between_schema_methods_and_probing():
    # The settings themselves: tests/test_settings.py.
    from saeprobe.methods import BASELINE_NAMES, REFERENCE_BASELINES
    from saeprobe.probing import BASELINES

    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    enum = schema["$defs"]["setting_baselines"]["items"]["enum"]
    assert enum == list(BASELINE_NAMES) == list(BASELINES)
    assert set(REFERENCE_BASELINES) == set(BASELINE_NAMES) - {"ridge"}


def test_probe_settings_fill_the_reference_defaults():
    from saeprobe.config import probe_settings

    settings = probe_settings({"probes": {"settings": {"ood": {"enabled": False}, "scarcity": {"grid": [4, 8]}}}})
    assert list(settings) == ["normal", "scarcity", "imbalance", "label_noise"]
    assert settings["scarcity"] == {"grid": [4, 8], "ks": [16, 128], "baselines": list(settings["normal"]["baselines"])}
    assert len(settings["imbalance"]["grid"]) == 19 and settings["label_noise"]["baselines"] == ["logreg_l2"]
    assert settings["normal"]["ks"] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]


@pytest.mark.parametrize("probes, named", [
    ({"settings": {"normal": {"grid": [1]}}}, "probes.settings.normal.grid: the normal setting has no grid"),
    ({"settings": {"ood": {"grid": [1]}}}, "probes.settings.ood.grid: the ood setting has no grid"),
    ({"settings": {"scarcity": {"grid": [1.5]}}}, r"probes.settings.scarcity.grid: .* \(got 1.5\)"),
    ({"settings": {"imbalance": {"grid": [1.0]}}}, "probes.settings.imbalance.grid"),
    ({"settings": {"label_noise": {"grid": [0.6]}}}, "probes.settings.label_noise.grid"),
    ({"settings": {"noisy": {}}}, r"probes.settings: \['noisy'\] are not settings"),
])
def test_bad_settings_and_grids_are_named(probes, named):
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


def reference_sae_config(name, layer, source="EleutherAI/pythia-160m-deduped"):
    return {"models": {"m": {"source": source, "layers": [layer],
                             "saes": [{"name": "s", "layer": layer, "pretrained": {"reference": name}}]}}}


def test_reference_sae_names_become_their_hub_repo_and_folder():
    from saeprobe.config import expand_reference_saes

    config = reference_sae_config("py_4k_btopk_s0", 8)
    expand_reference_saes(config)
    assert config["models"]["m"]["saes"][0]["pretrained"] == {
        "hub_repo": "adamkarvonen/saebench_pythia-160m-deduped_width-2pow12_date-0108",
        "hub_path": "BatchTopK_pythia-160m-deduped__0108/resid_post_layer_8/trainer_0"}
    # A local copy of the model cannot be told apart: its SAEs are taken at their word.
    local = reference_sae_config("gscope_16k_l0_82", 12, source=str(REPO))
    expand_reference_saes(local)
    assert local["models"]["m"]["saes"][0]["pretrained"]["hub_repo"] == "google/gemma-scope-2b-pt-res"


@pytest.mark.parametrize("name, layer, source, named", [
    ("py_4k_btopk_s9", 8, "EleutherAI/pythia-160m-deduped", r"saes\[s\].pretrained.reference: .*sparsities are s0"),
    ("py_4k_btopk_s0", 12, "EleutherAI/pythia-160m-deduped", "reads layer 8; set layer: 8"),
    ("gem_4k_topk_s0", 12, "EleutherAI/pythia-160m-deduped", "an SAE of google/gemma-2-2b, not of this model's"),
])
def test_a_reference_sae_of_another_model_layer_or_no_folder_is_named(name, layer, source, named):
    from saeprobe.config import ConfigError, expand_reference_saes

    with pytest.raises(ConfigError, match=named):
        expand_reference_saes(reference_sae_config(name, layer, source))


def test_interpreted_latents_are_as_many_as_the_stage_that_wants_most():
    from saeprobe.config import interpreted_latents, interpreted_saes

    models = {"m": {"saes": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}}
    config = {"models": models, "autointerp": {"enabled": True, "saes": ["a", "b"], "latents": 20},
              "sensitivity": {"enabled": True, "saes": ["b", "c"], "features": 50}}
    assert interpreted_saes(config) == {"m": ["a", "b", "c"]}
    assert [interpreted_latents(config, "m", s) for s in "abc"] == [20, 50, 50]
    config["sensitivity"]["enabled"] = False
    assert interpreted_saes(config) == {"m": ["a", "b"]}


def temporal_config(**temporal):
    saes = [{"name": "t", "layer": 5, "architecture": "temporal_matryoshka_batchtopk", "width": 64, "k": 4},
            {"name": "s", "layer": 3, "architecture": "topk", "width": 64, "k": 4, "corpus": "sequences"},
            {"name": "m", "layer": 7, "architecture": "matryoshka_batchtopk", "width": 64, "k": 4}]
    return {"models": {"lm": {"layers": [3], "saes": saes}}, "temporal": {"enabled": True, **temporal},
            "datasets": {"reference": ["x"]}}


def test_what_each_sae_trains_on_and_which_layers_the_sequence_corpus_holds():
    from saeprobe.config import sequence_corpus_layers, sequence_trained_saes, training_corpus

    config = temporal_config(saes=["m"])
    assert [training_corpus(e) for e in config["models"]["lm"]["saes"]] == ["sequences", "sequences", "tokens"]
    assert sequence_trained_saes(config) == {"lm": ["t", "s"]}
    assert sequence_corpus_layers(config, "lm") == [3, 5, 7]  # trained on it, or measured over it
    config["temporal"]["enabled"] = False
    assert sequence_corpus_layers(config, "lm") == [3, 5]


@pytest.mark.parametrize("change, named", [
    (lambda c: c["models"]["lm"]["saes"][0].update(corpus="tokens"), r"saes\[t\].corpus: .* trains on pairs"),
    (lambda c: c["temporal"].update(saes=["nope"]), r"temporal.saes: \['nope'\] are not configured SAEs"),
    (lambda c: c.update(probes={"saes": ["t", "gone"]}), r"probes.saes: \['gone'\] are not configured SAEs"),
    (lambda c: c["temporal"].update(chunk_probing={"tsne_saes": ["x"]}), r"tsne_saes: \['x'\] are not configured"),
])
def test_temporal_config_errors_name_the_key(change, named):
    from saeprobe.config import ConfigError, check_config

    config = temporal_config()
    change(config)
    with pytest.raises(ConfigError, match=named):
        check_config(config)


def test_probed_saes_default_to_all():
    from saeprobe.config import probed_saes

    config = temporal_config()
    assert probed_saes(config) == {"lm": ["t", "s", "m"]}
    config["probes"] = {"saes": ["m"]}
    assert probed_saes(config) == {"lm": ["m"]}


def test_job_resources_merge_rule_over_class_over_defaults():
    from saeprobe.config import RESOURCE_DEFAULTS, job_resources

    config = {"resources": {"gpu": {"mem_mb": 64000, "gres": "gpu:a100:1"}, "rules": {"sae_train": {"runtime": 600}}}}
    assert job_resources(config, "sae_train") == {**RESOURCE_DEFAULTS["gpu"], "mem_mb": 64000,
                                                  "gres": "gpu:a100:1", "runtime": 600}
    assert job_resources(config, "sae_encode")["runtime"] == RESOURCE_DEFAULTS["gpu"]["runtime"]
    assert job_resources({}, "probe_sae") == RESOURCE_DEFAULTS["cpu"]
    with pytest.raises(KeyError, match="JOB_CLASSES"):
        job_resources({}, "no_such_rule")


def test_resources_of_an_unknown_rule_are_named():
    from saeprobe.config import ConfigError, check_config

    config = {"models": {}, "datasets": {"reference": ["x"]}, "resources": {"rules": {"sae_trian": {"runtime": 5}}}}
    with pytest.raises(ConfigError, match=r"resources.rules: \['sae_trian'\]"):
        check_config(config)


def test_every_rule_that_runs_as_a_job_takes_its_resources_from_config():
    import re

    from saeprobe.config import JOB_CLASSES

    classed = {rule for rules in JOB_CLASSES.values() for rule in rules}
    seen = set()
    for rule_file in (REPO / "workflow/rules").glob("*.smk"):
        for block in re.split(r"^(?=rule |use rule )", rule_file.read_text(), flags=re.M)[1:]:
            name = re.match(r"(?:rule (\w+):|use rule \w+ as (\w+) with:)", block).groups()
            name = name[0] or name[1]
            if "localrule: True" in block:
                continue
            assert f'threads: job_threads("{name}")' in block, name
            assert f'**cluster_resources("{name}")' in block, name
            seen.add(name)
    assert seen == classed


@pytest.mark.parametrize("text, where", [
    ("models:\n  a: {source: x\n  b: 2\n", "line 3, column 4"),
    ("datasets:\n\treference: all\n", "line 2, column 1"),
])
def test_yaml_syntax_errors_name_file_and_line(tmp_path, text, where):
    from saeprobe.config import ConfigError, check_yaml_syntax

    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=f"config.yaml, {where}: not valid YAML"):
        check_yaml_syntax(path)
    path.write_text("datasets:\n  reference: all\n")
    check_yaml_syntax(path)  # valid YAML passes
