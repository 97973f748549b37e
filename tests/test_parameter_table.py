"""The parameter table is the one source of each parameter: CANDLE's definitions, the domains, the INI file and
--help agree with it value by value."""

import os
import re
import subprocess
import sys

import tybalt
from conftest import ENTRY_POINT
from tybalt_core.config.candle_compat import read_config_file
from tybalt_core.config.definitions import DEFINITIONS, DOMAINS, PARAMETER_TABLE


def test_candle_definitions_and_domains_are_the_table():
    assert tybalt.additional_definitions == [{key: value for key, value in row.items() if key != "domain"}
                                             for row in PARAMETER_TABLE]
    assert DOMAINS == {row["name"]: row["domain"] for row in PARAMETER_TABLE if "domain" in row}
    assert {row["name"] for row in PARAMETER_TABLE if row["type"] in (int, float)} == set(DOMAINS)


def test_default_model_file_gives_every_parameter_the_table_default():
    path = os.path.join(tybalt.FILE_PATH, tybalt.DEFAULT_MODEL_FILE)
    in_file = read_config_file(path, DEFINITIONS)
    assert list(in_file) == [row["name"] for row in PARAMETER_TABLE]
    differing = {name: (value, DEFINITIONS[name]["default"]) for name, value in in_file.items()
                 if value != DEFINITIONS[name]["default"] or type(value) is not type(DEFINITIONS[name]["default"])}
    assert not differing, f"INI value != table default: {differing}"


def test_help_shows_every_parameter_with_its_default():
    shown = subprocess.run([sys.executable, ENTRY_POINT, "--help"], capture_output=True, text=True, timeout=120,
                           env={**os.environ, "COLUMNS": "10000"})
    assert shown.returncode == 0, shown.stderr
    entries = {block.split()[0]: " ".join(block.split()) for block in re.split(r"\n  (?=--)", shown.stdout)}
    for row in PARAMETER_TABLE:
        assert f"(default: {row['default']!r})" in entries[f"--{row['name']}"], row["name"]
