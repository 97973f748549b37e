"""Typed settings: each stage's frozen dataclass is built from the checked parameters, field by parameter."""

import dataclasses

import pytest

from tybalt_core.config.definitions import DEFINITIONS
from tybalt_core.config.settings import AnalysisSettings, DataSettings, ModelSettings, TrainingSettings
from tybalt_core.data.tcga import TcgaOptions

STAGES = (DataSettings, ModelSettings, TrainingSettings, AnalysisSettings)


@pytest.mark.parametrize("stage", STAGES, ids=lambda stage: stage.__name__)
def test_settings_take_each_field_from_the_parameter_of_that_name(stage, tiny_params):
    params = tiny_params("--latent_dim", "5", "--model_type", "adage", "--epochs", "3")
    settings = stage.from_params(params)
    for field in dataclasses.fields(stage):
        if field.name in DEFINITIONS:
            assert getattr(settings, field.name) == params[field.name], field.name
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.rng_seed = 1


def test_data_settings_carry_tcga_options_only_for_tcga(tiny_params):
    assert DataSettings.from_params(tiny_params()).tcga is None
    tcga = DataSettings.from_params(tiny_params("--data_source", "tcga", "--num_genes", "40")).tcga
    assert isinstance(tcga, TcgaOptions) and tcga.num_genes == 40 and tcga.scaling == "minmax"


def test_every_field_but_the_derived_ones_names_a_parameter():
    derived = {"tcga"}
    for stage in STAGES:
        assert {field.name for field in dataclasses.fields(stage)} - derived <= set(DEFINITIONS), stage.__name__
