"""A small CANDLE-compatible parameter layer, used when real candle_lib is not importable.

It follows candle_lib's contract: a ``Benchmark`` declares ``additional_definitions`` and ``required``;
``finalize_parameters`` reads the default-model INI file (all sections merged, first occurrence of a key
wins), lets ``--name value`` flags override it, converts types from the definitions and checks the
required set. Unlike candle_lib, file values are parsed as Python literals and never evaluated as code.
"""

from __future__ import annotations

import argparse
import ast
import configparser
import logging
import os
import sys
from typing import Any, Callable, Iterable

from tybalt_core.common.cli import OneLineErrorParser
from tybalt_core.common.errors import TybaltInputError, shown
from tybalt_core.common.user_files import LITERAL_ERRORS, read_text

logger = logging.getLogger(__name__)

ParameterDefinition = dict[str, Any]


def str2bool(text: str | bool) -> bool:
    """Read yes/no, true/false, t/f, y/n, 1/0 (any case) as a boolean, like candle_lib."""
    if isinstance(text, bool):
        return text
    lowered = str(text).strip().lower()
    if lowered in ("yes", "true", "t", "y", "1"):
        return True
    if lowered in ("no", "false", "f", "n", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected a boolean (true/false), got {text!r}")


COMMON_DEFINITIONS: list[ParameterDefinition] = [
    {"name": "config_file", "type": str, "default": None,
     "help": "default-model INI file to read instead of the benchmark's own (a relative path is looked up in the "
             "working folder, then in the benchmark folder)"},
]


class Benchmark:
    """Describes a benchmark's parameters; subclasses fill ``required`` and ``additional_definitions``."""

    def __init__(
        self,
        filepath: str,
        defmodel: str,
        framework: str,
        prog: str | None = None,
        desc: str | None = None,
        additional_definitions: Iterable[ParameterDefinition] | None = None,
        required: Iterable[str] | None = None,
    ) -> None:
        self.file_path = filepath
        self.default_model = defmodel
        self.framework = framework
        self.prog = prog
        self.desc = desc
        self.required: set[str] = set(required or ())
        self.additional_definitions: list[ParameterDefinition] = list(additional_definitions or ())
        self.set_locals()

    def set_locals(self) -> None:
        """Hook for subclasses to set ``required`` and ``additional_definitions``."""


def finalize_parameters(benchmark: Benchmark, argv: list[str] | None = None) -> dict[str, Any]:
    """Merge the INI defaults and the command line into one parameter dictionary."""
    argv = sys.argv[1:] if argv is None else argv
    definitions = {d["name"]: d for d in COMMON_DEFINITIONS + benchmark.additional_definitions}
    config_path = _config_path(benchmark, _config_file_from(argv))
    file_values = read_config_file(config_path, definitions)
    parser = _build_parser(benchmark, definitions, file_values)
    flags = {name: value for name, value in vars(parser.parse_args(argv)).items()}

    params = {name: d["default"] for name, d in definitions.items() if "default" in d}
    params.update(file_values)
    params.update(flags)
    params["config_file"] = config_path
    missing = sorted(benchmark.required - {k for k, v in params.items() if v is not None})
    if missing:
        raise TybaltInputError(
            f"required parameters not set: {', '.join(missing)}; add them to {config_path} or pass --NAME VALUE")
    return params


def follow_candle_data_dir(params: dict[str, Any], table_default: str) -> dict[str, Any]:
    """candle_lib's data layout: with ``$CANDLE_DATA_DIR`` set, data live in ``$CANDLE_DATA_DIR/<model_name>/Data``.

    Applied when ``data_dir`` is still ``table_default`` (a data_dir given in a model file or on the command line
    wins); candle_lib v0.6 already did it, v0.5 and this layer do not.
    """
    root = os.environ.get("CANDLE_DATA_DIR", "")
    if root and params.get("data_dir") == table_default:
        params["data_dir"] = os.path.join(os.path.abspath(os.path.expanduser(root)), str(params["model_name"]), "Data")
    return params


def read_config_file(path: str, definitions: dict[str, ParameterDefinition]) -> dict[str, Any]:
    """Read an INI file whose values are Python literals, converting each to its definition's type."""
    text = read_text(path, "config file", "pass an existing file with --config_file")
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text, source=path)
    except configparser.Error as error:
        errors = getattr(error, "errors", None)  # ParsingError lists (line number, repr of the line) pairs
        first_line = (f"line {errors[0][0]}: {ast.literal_eval(errors[0][1]).strip()}" if errors
                      else str(error).splitlines()[0])
        raise TybaltInputError(f"config file {path} is not a valid INI file ({first_line}); "
                               f"use 'name = value' lines under a [Global_Params] header") from None
    values: dict[str, Any] = {}
    for section in parser.sections():
        for key, text in parser.items(section):
            if key not in values:
                values[key] = _convert(key, _literal(path, key, text), definitions.get(key), f"config file {path}")
    unknown = sorted(set(values) - set(definitions))
    if unknown:
        logger.warning("config file %s: keys not defined by the benchmark (kept as they are): %s",
                       path, ", ".join(unknown))
    return values


def _literal(path: str, key: str, text: str) -> Any:
    """Parse one INI value as a Python literal (number, string, list, bool, None)."""
    try:
        return ast.literal_eval(text.strip())
    except LITERAL_ERRORS:
        raise TybaltInputError(
            f"config file {path}: value of {key!r} is not a Python literal ({text.strip()!r}); "
            f"write numbers as 10 or 0.5, text in quotes ('adam'), lists as [1, 2]") from None


def _convert(name: str, value: Any, definition: ParameterDefinition | None, where: str) -> Any:
    """Convert a file value to the type its definition declares, element-wise for list parameters."""
    if definition is None or value is None or "type" not in definition:
        return value
    convert: Callable[[Any], Any] = definition["type"]
    try:
        if definition.get("nargs") and isinstance(value, (list, tuple)):
            return [convert(item) for item in value]
        if convert in (int, float) and isinstance(value, (list, tuple, str, bool)):
            raise ValueError
        if convert is int and isinstance(value, float) and not value.is_integer():
            raise ValueError
        return convert(value)
    except (ValueError, TypeError, OverflowError, argparse.ArgumentTypeError):
        type_name = getattr(convert, "__name__", str(convert))
        raise TybaltInputError(f"{where}: {name} = {shown(value)} is not a valid {type_name}; "
                               f"give a value of type {type_name}") from None


def _config_file_from(argv: list[str]) -> str | None:
    """Find --config_file on the command line before the full parser exists."""
    pre_parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    pre_parser.add_argument("--config_file", default=None)
    known, _ = pre_parser.parse_known_args(argv)
    return known.config_file


def _config_path(benchmark: Benchmark, config_file: str | None) -> str:
    """Resolve the INI file: --config_file as given (relative to the working folder), else next to the benchmark.

    A relative --config_file found in neither place is reported with its working-folder path.
    """
    beside_benchmark = os.path.join(benchmark.file_path, config_file or benchmark.default_model)
    if config_file and (os.path.lexists(config_file) or not os.path.lexists(beside_benchmark)):
        return os.path.abspath(config_file)
    return beside_benchmark


def _build_parser(benchmark: Benchmark, definitions: dict[str, ParameterDefinition],
                  file_values: dict[str, Any]) -> argparse.ArgumentParser:
    """One ``--name`` flag per definition; only flags actually given end up in the parsed namespace."""
    parser = OneLineErrorParser(prog=benchmark.prog, description=benchmark.desc, allow_abbrev=False)
    for name, definition in definitions.items():
        shown_default = file_values.get(name, definition.get("default"))
        help_text = f"{definition.get('help', '')} (default: {shown_default!r})".replace("%", "%%")
        options: dict[str, Any] = {"default": argparse.SUPPRESS, "help": help_text}
        for key in ("type", "nargs", "choices"):
            if key in definition:
                options[key] = definition[key]
        parser.add_argument(f"--{name}", **options)
    return parser
