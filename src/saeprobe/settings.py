"""The probing settings: one ``Setting`` per setting, everything else asks here.

A setting turns a dataset's labels into cases, one per grid value (a training
size, a positive fraction, a flip fraction; settings without a grid have one
case), each with its training rows, training labels and test rows. Besides
that, each ``Setting`` says what the config may set for it and what it runs
by default, how its figure is drawn, whether it needs the OOD sets, where its
baselines run and how the reference's quiver treats it. The config checks,
the probe jobs, the rules and the figures read these fields, so adding a
setting is one entry in ``SETTINGS`` (plus its key in the config schema;
tests/test_settings.py checks the two agree).

Grids, ks and baselines are the reference's (Kantamneni et al. 2025;
utils_data.py, train_sae_probes.py, run_baselines.py), plus our ridge
classifier. The Snakefile imports this module at parse time, in every cluster
job too, so it imports numpy and the split functions only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Literal

import numpy as np

from saeprobe.methods import BASELINE_NAMES
from saeprobe.splits import (
    SettingSkipped, flip_labels, imbalance_split, normal_split, ood_train_rows, scarcity_split,
)

# The reference's grids (utils_data.get_training_sizes, get_class_imbalance,
# get_corrupt_frac): 2, 3, 4, 5, 7, ..., 1024 training rows (20 values);
# positive fractions 0.05, 0.10, ..., 0.95; flipped fractions 0, 0.05, ..., 0.5.
SCARCITY_TRAIN_SIZES = tuple(int(n) for n in np.unique(np.round(np.logspace(1, 10, 20, base=2)).astype(int)))
IMBALANCE_POSITIVE_FRACTIONS = tuple(round(float(f), 2) for f in np.linspace(0.05, 0.95, 19))
NOISE_FLIP_FRACTIONS = tuple(round(float(f), 2) for f in np.linspace(0, 0.5, 11))
# The reference's power-of-two k grid for the normal setting, and its k elsewhere.
NORMAL_KS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
SETTING_KS = (16, 128)


@dataclass(frozen=True)
class Case:
    """One grid point of a setting: what to train on and what to test on."""

    value: float | None
    train: np.ndarray | None = None
    train_labels: np.ndarray | None = None
    test: np.ndarray | None = None
    skipped: str = ""


@dataclass(frozen=True)
class Figure:
    """A setting's figure of mean test AUC against its grid values."""

    name: str
    """The figure's file is ``auc_vs_{name}.png``."""
    axis_label: str
    log_scale: bool = False


# (labels, grid value, the whole grid, OOD labels) -> (train rows, train labels,
# test rows); raises SettingSkipped for a value the dataset cannot afford.
Draw = Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Setting:
    """One probing setting: what it runs, how it draws its cases, how it is shown."""

    name: str
    draw: Draw
    default_ks: tuple[int, ...]
    default_baselines: tuple[str, ...]
    reference_grid: tuple[float, ...] | None = None
    """The reference's grid; None: the setting has no grid (one case)."""
    valid_value: Callable[[float], bool] | None = None
    value_rule: str = ""
    """What a valid grid value is, said in the error for one that is not."""
    figure: Figure | None = None
    table_figures: tuple[str, ...] = ()
    """Other figures drawn from this setting's table, each by a rule of its own."""
    uses_ood_data: bool = False
    """Tests on the dataset's OOD set, so it runs only on datasets that have one."""
    baselines_at_every_layer: bool = False
    """Baselines at every probed layer; otherwise only at the model's main layer."""
    reference_quiver_ties: Literal["sae", "baseline"] | None = None
    """Who wins a tie of validation AUC in the reference's quiver; None: it draws none here."""

    @property
    def has_grid(self) -> bool:
        return self.reference_grid is not None

    @property
    def config_keys(self) -> frozenset[str]:
        """The keys ``probes.settings.<name>`` accepts."""
        return frozenset({"enabled", "ks", "baselines"} | ({"grid"} if self.has_grid else set()))

    def grid_error(self, grid: Iterable[float]) -> str | None:
        """Why ``grid`` is not a valid grid of this setting, or None if it is."""
        bad = [v for v in grid if not self.valid_value(v)]
        return f"{self.value_rule} (got {', '.join(map(str, bad))})" if bad else None

    def cases(self, labels: np.ndarray, grid: Iterable[float] | None = None,
              ood_labels: np.ndarray | None = None) -> list[Case]:
        """The cases on a dataset with ``labels``; ``grid`` defaults to the reference's.

        With ``uses_ood_data`` the test rows index the OOD set (``ood_labels``),
        not the dataset.
        """
        labels = np.asarray(labels)
        if self.uses_ood_data and ood_labels is None:
            raise ValueError(f"the {self.name} setting needs the OOD set's labels")
        if not self.has_grid:
            if grid is not None:
                raise ValueError(f"the {self.name} setting has no grid; pass grid=None")
            values = (None,)
        else:
            values = self.reference_grid if grid is None else tuple(grid)
            error = self.grid_error(values)
            if error:
                raise ValueError(f"{self.name} grid: {error}")
        cases = []
        for value in values:
            try:
                train, train_labels, test = self.draw(labels, value, values, ood_labels)
            except SettingSkipped as why:
                cases.append(Case(value, skipped=str(why)))
                continue
            cases.append(Case(value, train, train_labels, test))
        return cases


def _normal(labels, value, grid, ood_labels):
    train, test = normal_split(labels)
    return train, labels[train], test


def _scarcity(labels, value, grid, ood_labels):
    train, test = scarcity_split(labels, int(value))
    return train, labels[train], test


def _imbalance(labels, value, grid, ood_labels):
    train, test = imbalance_split(labels, value, fractions=grid)
    return train, labels[train], test


def _label_noise(labels, value, grid, ood_labels):
    train, test = normal_split(labels)  # the validation rows are noisy too, as in the reference
    return train, flip_labels(labels[train], value), test


def _ood(labels, value, grid, ood_labels):
    train = ood_train_rows(labels)
    return train, labels[train], np.arange(len(ood_labels))


SETTINGS: dict[str, Setting] = {s.name: s for s in (
    Setting(
        name="normal", draw=_normal, default_ks=NORMAL_KS, default_baselines=BASELINE_NAMES,
        baselines_at_every_layer=True, table_figures=("auc_vs_k", "baselines_by_layer"),
        reference_quiver_ties="baseline",
    ),
    Setting(
        name="scarcity", draw=_scarcity, default_ks=SETTING_KS, default_baselines=BASELINE_NAMES,
        reference_grid=SCARCITY_TRAIN_SIZES, valid_value=lambda v: v >= 2 and v == int(v),
        value_rule="training sizes must be whole numbers of at least 2",
        figure=Figure("train_size", "training rows", log_scale=True), reference_quiver_ties="sae",
    ),
    Setting(
        name="imbalance", draw=_imbalance, default_ks=SETTING_KS, default_baselines=BASELINE_NAMES,
        reference_grid=IMBALANCE_POSITIVE_FRACTIONS, valid_value=lambda v: 0 < v < 1,
        value_rule="positive fractions must lie strictly between 0 and 1",
        figure=Figure("imbalance", "fraction of positive training (and test) rows"), reference_quiver_ties="sae",
    ),
    Setting(
        name="label_noise", draw=_label_noise, default_ks=SETTING_KS, default_baselines=("logreg_l2",),
        reference_grid=NOISE_FLIP_FRACTIONS, valid_value=lambda v: 0 <= v <= 0.5,
        value_rule="flipped fractions must lie in [0, 0.5]",
        figure=Figure("noise", "fraction of training labels flipped"),
    ),
    Setting(
        name="ood", draw=_ood, default_ks=(128,), default_baselines=("logreg_l2",), uses_ood_data=True,
    ),
)}


def setting(name: str) -> Setting:
    """The setting called ``name``."""
    if name not in SETTINGS:
        raise ValueError(f"unknown setting {name!r}; choose one of {', '.join(SETTINGS)}")
    return SETTINGS[name]
