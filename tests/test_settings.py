"""The settings registry: its agreement with the config schema, and each setting's behaviour."""

import subprocess
import sys

import jsonschema
import numpy as np
import pytest
import yaml

from saeprobe.settings import (
    IMBALANCE_POSITIVE_FRACTIONS, NOISE_FLIP_FRACTIONS, SCARCITY_TRAIN_SIZES, SETTINGS, setting,
)
from saeprobe.splits import flip_labels, normal_split, ood_train_rows, scarcity_split
from workflow_helpers import REPO

SCHEMA = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())


def schema_setting(name: str) -> dict:
    ref = SCHEMA["properties"]["probes"]["properties"]["settings"]["properties"][name]["$ref"]
    return SCHEMA["$defs"][ref.removeprefix("#/$defs/")]


def test_schema_lists_exactly_the_registry_settings_with_the_keys_each_accepts():
    in_schema = SCHEMA["properties"]["probes"]["properties"]["settings"]["properties"]
    assert list(in_schema) == list(SETTINGS)
    for name, spec in SETTINGS.items():
        assert set(schema_setting(name)["properties"]) == spec.config_keys, name
        assert ("grid" in spec.config_keys) == spec.has_grid


def test_schema_refuses_a_grid_for_a_setting_without_one():
    validator = jsonschema.Draft202012Validator(SCHEMA)
    base = {"datasets": {"reference": ["x"]}, "models": {"m": {"source": "s", "layers": [0]}}}
    for name, spec in SETTINGS.items():
        config = {**base, "probes": {"settings": {name: {"grid": [0.5]}}}}
        errors = list(validator.iter_errors(config))
        assert bool(errors) != spec.has_grid, name


def test_defaults_are_the_references():
    from saeprobe.methods import BASELINE_NAMES
    from saeprobe.probes import REFERENCE_KS

    assert SETTINGS["normal"].default_ks == REFERENCE_KS
    assert SETTINGS["scarcity"].default_ks == SETTINGS["label_noise"].default_ks == (16, 128)
    assert SETTINGS["ood"].default_ks == (128,)
    assert SETTINGS["imbalance"].default_baselines == BASELINE_NAMES
    assert SETTINGS["label_noise"].default_baselines == SETTINGS["ood"].default_baselines == ("logreg_l2",)
    assert all(set(s.default_baselines) <= set(BASELINE_NAMES) for s in SETTINGS.values())


def test_reference_grids():
    assert SCARCITY_TRAIN_SIZES == (2, 3, 4, 5, 7, 10, 14, 20, 28, 38, 53, 74, 103, 143, 198, 275, 382, 531, 737, 1024)
    assert len(IMBALANCE_POSITIVE_FRACTIONS) == 19 and IMBALANCE_POSITIVE_FRACTIONS[0] == 0.05
    assert NOISE_FLIP_FRACTIONS == (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)
    assert SETTINGS["normal"].reference_grid is None and SETTINGS["ood"].reference_grid is None


def test_every_reference_grid_is_valid_and_bad_values_are_named():
    for spec in SETTINGS.values():
        if spec.has_grid:
            assert spec.grid_error(spec.reference_grid) is None, spec.name
    assert setting("scarcity").grid_error([4, 1.5, 1]) == "training sizes must be whole numbers of at least 2 (got 1.5, 1)"
    assert "strictly between 0 and 1" in setting("imbalance").grid_error([0.5, 1.0])
    assert "[0, 0.5]" in setting("label_noise").grid_error([0.6])


def test_figures_ood_data_and_layers():
    figures = {name: s.figure for name, s in SETTINGS.items() if s.figure}
    assert {name: f.name for name, f in figures.items()} == {
        "scarcity": "train_size", "imbalance": "imbalance", "label_noise": "noise"}
    assert figures["scarcity"].log_scale and not figures["imbalance"].log_scale
    assert figures["label_noise"].axis_label == "fraction of training labels flipped"
    assert all(s.figure for s in SETTINGS.values() if s.has_grid)  # a grid is drawn against
    assert [n for n, s in SETTINGS.items() if s.uses_ood_data] == ["ood"]
    assert [n for n, s in SETTINGS.items() if s.baselines_at_every_layer] == ["normal"]
    assert SETTINGS["normal"].table_figures == ("auc_vs_k", "baselines_by_layer")


def test_baseline_layers_follow_the_setting():
    from saeprobe.config import baseline_layers

    model = {"layers": [3, 7], "saes": [{"name": "s", "layer": 7}]}
    assert baseline_layers(model, "normal") == [3, 7]
    assert baseline_layers(model, "scarcity") == baseline_layers(model, "ood") == [7]


def test_the_registry_imports_no_heavy_module():
    # The Snakefile imports it at parse time, in every cluster job.
    code = ("import sys, saeprobe.settings, saeprobe.config, saeprobe.paths; "
            "print(sorted(m for m in ('torch', 'sklearn', 'pandas', 'scipy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def labels_of(n=300, seed=0):
    y = np.zeros(n, int)
    y[np.random.default_rng(seed).permutation(n)[: n // 2]] = 1
    return y


def test_normal_has_one_case_the_normal_split():
    y = labels_of()
    [case] = setting("normal").cases(y)
    train, test = normal_split(y)
    assert case.value is None and np.array_equal(case.train, train) and np.array_equal(case.test, test)
    assert np.array_equal(case.train_labels, y[train])
    with pytest.raises(ValueError, match="the normal setting has no grid"):
        setting("normal").cases(y, grid=[1])


def test_scarcity_draws_each_size_and_skips_what_it_cannot_afford():
    y = labels_of()
    cases = setting("scarcity").cases(y, grid=[4, 200, 201])
    assert np.array_equal(cases[0].train, scarcity_split(y, 4)[0]) and len(cases[1].train) == 200
    assert "201 training rows need 301 rows" in cases[2].skipped and cases[2].train is None
    with pytest.raises(ValueError, match="scarcity grid: training sizes"):
        setting("scarcity").cases(y, grid=[1])


def test_imbalance_trains_and_tests_at_each_fraction():
    y = labels_of(n=600)
    cases = setting("imbalance").cases(y, grid=[0.1, 0.5, 0.9])
    sizes = {(len(c.train), len(c.test)) for c in cases}
    assert len(sizes) == 1  # one train size for the whole grid
    for case in cases:
        assert case.train_labels.mean() == pytest.approx(case.value, abs=0.01)
        assert y[case.test].mean() == pytest.approx(case.value, abs=0.01)
        assert np.array_equal(case.train_labels, y[case.train])


def test_label_noise_flips_training_labels_only():
    y = labels_of()
    cases = setting("label_noise").cases(y, grid=[0.0, 0.3])
    train, test = normal_split(y)
    for case in cases:
        assert np.array_equal(case.train, train) and np.array_equal(case.test, test)
        assert np.array_equal(case.train_labels, flip_labels(y[train], case.value))
    assert (cases[1].train_labels != y[train]).sum() == int(0.3 * len(train))


def test_ood_trains_on_the_dataset_and_tests_on_every_ood_row():
    y, y_ood = labels_of(n=400), labels_of(n=50, seed=3)
    [case] = setting("ood").cases(y, ood_labels=y_ood)
    assert np.array_equal(case.train, ood_train_rows(y)) and np.array_equal(case.test, np.arange(50))
    with pytest.raises(ValueError, match="OOD set's labels"):
        setting("ood").cases(y)
    [skipped] = setting("ood").cases(np.ones(200, int), ood_labels=y_ood)
    assert "needs both classes" in skipped.skipped


def test_unknown_settings_are_refused():
    with pytest.raises(ValueError, match="unknown setting 'noisy'; choose one of normal, scarcity"):
        setting("noisy")
