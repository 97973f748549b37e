"""The project's CANDLE-compatible parameter layer: INI defaults, flag overrides, types, safety."""

import logging

import pytest

from tybalt_core.common.errors import TybaltInputError
from tybalt_core.config import candle_compat

DEFINITIONS = [
    {"name": "epochs", "type": int, "default": 1, "help": "passes"},
    {"name": "learning_rate", "type": float, "default": 0.1, "help": "step"},
    {"name": "tied", "type": candle_compat.str2bool, "default": False, "help": "flag"},
    {"name": "dense", "type": int, "nargs": "+", "default": [1], "help": "layers"},
    {"name": "optimizer", "type": str, "default": "sgd", "choices": ["sgd", "adam"], "help": "optimizer"},
]


def benchmark(folder, ini_text, required=()):
    (folder / "model.txt").write_text(ini_text)
    return candle_compat.Benchmark(str(folder), "model.txt", "keras", additional_definitions=DEFINITIONS,
                                   required=required)


def test_file_values_override_definition_defaults_and_flags_override_file(tmp_path):
    bmk = benchmark(tmp_path, "[Global_Params]\nepochs = 7\noptimizer = 'adam'\ndense = [100, 50]\n")
    params = candle_compat.finalize_parameters(bmk, ["--learning_rate", "0.5", "--dense", "3", "4"])
    assert params["epochs"] == 7
    assert params["optimizer"] == "adam"
    assert params["learning_rate"] == 0.5
    assert params["dense"] == [3, 4]
    assert params["tied"] is False


def test_first_occurrence_of_a_key_wins_across_sections(tmp_path):
    bmk = benchmark(tmp_path, "[Global_Params]\nepochs = 3\n[Monitor_Params]\nepochs = 9\n")
    assert candle_compat.finalize_parameters(bmk, [])["epochs"] == 3


def test_config_file_flag_reads_another_file_relative_to_the_benchmark(tmp_path):
    bmk = benchmark(tmp_path, "[Global_Params]\nepochs = 3\n")
    (tmp_path / "other.txt").write_text("[Global_Params]\nepochs = 11\n")
    assert candle_compat.finalize_parameters(bmk, ["--config_file", "other.txt"])["epochs"] == 11


def test_boolean_flags_accept_candle_spellings(tmp_path):
    bmk = benchmark(tmp_path, "[Global_Params]\ntied = True\n")
    assert candle_compat.finalize_parameters(bmk, [])["tied"] is True
    assert candle_compat.finalize_parameters(bmk, ["--tied", "no"])["tied"] is False


def test_python_code_in_the_config_file_is_refused_not_run(tmp_path):
    marker = tmp_path / "was_run"
    bmk = benchmark(tmp_path, f"[Global_Params]\nepochs = __import__('pathlib').Path('{marker}').touch()\n")
    with pytest.raises(TybaltInputError, match="not a Python literal"):
        candle_compat.finalize_parameters(bmk, [])
    assert not marker.exists()


def test_a_value_of_the_wrong_type_names_the_key(tmp_path):
    bmk = benchmark(tmp_path, "[Global_Params]\nepochs = 'ten'\n")
    with pytest.raises(TybaltInputError, match="epochs"):
        candle_compat.finalize_parameters(bmk, [])


def test_missing_required_parameter_is_reported_by_name(tmp_path):
    bmk = benchmark(tmp_path, "[Global_Params]\nepochs = 2\n", required={"latent_dim"})
    with pytest.raises(TybaltInputError, match="latent_dim"):
        candle_compat.finalize_parameters(bmk, [])


def test_unknown_flag_is_a_one_line_error_naming_the_flag(tmp_path):
    bmk = benchmark(tmp_path, "[Global_Params]\nepochs = 2\n")
    with pytest.raises(TybaltInputError, match="--no_such_flag"):
        candle_compat.finalize_parameters(bmk, ["--no_such_flag", "1"])


def test_unknown_key_in_the_file_only_warns_and_is_kept(tmp_path, caplog):
    bmk = benchmark(tmp_path, "[Global_Params]\nepochs = 2\nsomething_else = 5\n")
    with caplog.at_level(logging.WARNING):
        params = candle_compat.finalize_parameters(bmk, [])
    assert params["something_else"] == 5
    assert "something_else" in caplog.text


def test_missing_config_file_is_a_clear_error(tmp_path):
    bmk = candle_compat.Benchmark(str(tmp_path), "absent.txt", "keras", additional_definitions=DEFINITIONS)
    with pytest.raises(TybaltInputError, match="absent.txt not found"):
        candle_compat.finalize_parameters(bmk, [])


def test_the_shipped_default_model_file_defines_every_parameter_with_a_comment():
    import os

    import tybalt

    lines = open(os.path.join(tybalt.FILE_PATH, tybalt.DEFAULT_MODEL_FILE)).read().splitlines()
    keys = {line.split("=")[0].strip(): index for index, line in enumerate(lines) if "=" in line and
            not line.startswith("#")}
    for definition in tybalt.additional_definitions:
        assert definition["name"] in keys, f"{definition['name']} missing from the default model file"
        assert lines[keys[definition["name"]] - 1].startswith("#"), f"{definition['name']} has no comment"
