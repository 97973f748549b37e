"""Bad input to the shell tools (workflows/run_campaign.sh, workflows/engine/build_engine.sh), issue 25 cause 6: the
promise of the Python tools through their one error function (workflows/engine/errors.sh): exit 2, exactly one
``tybalt: error:`` line naming the fix, nothing on stdout, no file or folder created or changed.

Every case runs the real script in a real bash process, in a folder of its own that is also the working folder;
the vendored sources are stand-in tarballs (only their names are read before these errors), and HOME points into
the case's folder, so the default engine cache would be made there if a case got that far.
"""

import os
import subprocess
import sys
from dataclasses import dataclass, field

import pytest

from conftest import REPO

LAUNCHER = os.path.join(REPO, "workflows", "run_campaign.sh")
BUILD_ENGINE = os.path.join(REPO, "workflows", "engine", "build_engine.sh")
VENDORED = ("swift-t-1.6.tar.gz", "Supervisor-abc.tar.gz", "smoof-1.6.tar.gz", "mlrMBO-1.1.tar.gz")
GRID = {"t.upf": '{"id": "a", "epochs": 1}\n', "cfg-sys-t.sh": "export PROCS=2\n"}
PARAM_SET = {"s.R": "param.set <- makeParamSet()\n", "cfg-sys-s.sh": "export PROCS=2\n",
             "cfg-prm-s.sh": "export DESIGN_SIZE=2\n"}


@dataclass
class Case:
    """The script, its arguments ({d}: the case's folder), files made there, environment, texts of the line."""

    script: str
    args: tuple
    expected: tuple
    files: dict = field(default_factory=dict)
    env: dict = field(default_factory=dict)


def launch(*args: str, env: dict | None = None, files: dict | None = None, expected: tuple = ()) -> Case:
    return Case(LAUNCHER, args, expected, {**GRID, **PARAM_SET, **(files or {})}, env or {})


CASES = {
    "no arguments": launch(expected=("expected 3 arguments, got 0", "usage: workflows/run_campaign.sh [--wait] upf|mlrmbo")),
    "a wrong kind": launch("grid", "local", "{d}/t.upf",
                           expected=("unknown kind 'grid'", "use upf", "usage: workflows/run_campaign.sh")),
    "a .R file given to upf": launch("upf", "local", "{d}/s.R",
                                     expected=("upf takes a .upf grid file (*.upf), not {d}/s.R",)),
    "a .upf file given to mlrmbo": launch("mlrmbo", "local", "{d}/t.upf",
                                          expected=("mlrmbo takes an mlrMBO .R parameter set file (*.R)",)),
    "a missing search file": launch("upf", "local", "{d}/absent.upf", expected=("{d}/absent.upf does not exist",)),
    "a missing cfg-sys file": launch("upf", "local", "{d}/u.upf", files={"u.upf": "{}\n"},
                                     expected=("{d}/cfg-sys-u.sh does not exist", "workflow_files.py")),
    "CAMPAIGN_DIR is a file": launch("upf", "local", "{d}/t.upf", files={"c.txt": "x\n"},
                                     env={"CAMPAIGN_DIR": "{d}/c.txt"},
                                     expected=("campaign folder {d}/c.txt cannot be used", "is not a folder",
                                               "set CAMPAIGN_DIR")),
    "CAMPAIGN_DIR inside a file": launch("upf", "local", "{d}/t.upf", files={"c.txt": "x\n"},
                                         env={"CAMPAIGN_DIR": "{d}/c.txt/campaigns"},
                                         expected=("{d}/c.txt is not a folder",)),
    "EXPID escaping the campaign folder": launch("upf", "local", "{d}/t.upf", env={"EXPID": "../../x"},
                                                 expected=("EXPID='../../x' is not a plain folder name",)),
    "a missing TYBALT_PYTHON": launch("upf", "local", "{d}/t.upf", env={"TYBALT_PYTHON": "{d}/no/python"},
                                      expected=("TYBALT_PYTHON={d}/no/python is not an executable Python",
                                                "make test or make demo makes .venv")),
    "missing vendored sources": launch("upf", "local", "{d}/t.upf", files={"empty/.keep": ""},
                                       env={"TYBALT_VENDOR_DIR": "{d}/empty"},
                                       expected=("no swift-t-*.tar.gz in {d}/empty", "set TYBALT_VENDOR_DIR")),
    "TYBALT_ENGINE_DIR is a file": launch("upf", "local", "{d}/t.upf", files={"e.txt": "x\n"},
                                          env={"TYBALT_ENGINE_DIR": "{d}/e.txt"},
                                          expected=("engine folder {d}/e.txt cannot be used", "set TYBALT_ENGINE_DIR")),
    "a site without a Supervisor": launch("upf", "polaris", "{d}/t.upf",
                                          expected=("no Supervisor for site polaris", "TYBALT_SUPERVISOR")),
    "--where without vendored sources": Case(BUILD_ENGINE, ("--where",), ("no Supervisor-*.tar.gz in {d}/part",),
                                             {"part/swift-t-1.tar.gz": ""}, {"TYBALT_VENDOR_DIR": "{d}/part"}),
    "build with a missing TYBALT_PYTHON": Case(BUILD_ENGINE, (), ("TYBALT_PYTHON={d}/nothing is not an executable",),
                                               env={"TYBALT_PYTHON": "{d}/nothing"}),
    "build into a TYBALT_ENGINE_DIR that is a file": Case(BUILD_ENGINE, (), ("engine folder {d}/e.txt cannot be used",
                                                                             "is not a folder"),
                                                          {"e.txt": "x\n"}, {"TYBALT_ENGINE_DIR": "{d}/e.txt"}),
    "build_engine with an unknown option": Case(BUILD_ENGINE, ("--wher",), ("unknown option '--wher'",
                                                                           "use --check, --where")),
}


def _every_path(root) -> dict:
    """Every file and folder under ``root``: a file's bytes, a folder as 'folder'."""
    found = {}
    for folder, folders, names in os.walk(root):
        found.update({os.path.join(folder, name): "folder" for name in folders})
        found.update({os.path.join(folder, name): open(os.path.join(folder, name), "rb").read() for name in names})
    return found


@pytest.mark.parametrize("name", list(CASES))
def test_shell_tool_refuses_with_one_error_line_exit_2_and_creates_nothing(name, tmp_path):
    case = CASES[name]
    for file_name, content in {**{f"vendor/{v}": "" for v in VENDORED}, **case.files}.items():
        (tmp_path / file_name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / file_name).write_text(content)
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("CAMPAIGN_DIR", "EXPID", "TYBALT_ENGINE_DIR", "CANDLE", "TYBALT_SUPERVISOR")}
    environment.update(TYBALT_VENDOR_DIR=str(tmp_path / "vendor"), TYBALT_PYTHON=sys.executable,
                       HOME=str(tmp_path / "home"))
    environment.update({key: value.replace("{d}", str(tmp_path)) for key, value in case.env.items()})
    before = _every_path(tmp_path)

    done = subprocess.run(["bash", case.script, *(arg.replace("{d}", str(tmp_path)) for arg in case.args)],
                          capture_output=True, text=True, cwd=tmp_path, env=environment, timeout=120)

    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and lines[0].startswith("tybalt: error: "), done.stderr
    assert done.stdout == ""
    for text in case.expected:
        assert text.replace("{d}", str(tmp_path)) in lines[0]
    assert _every_path(tmp_path) == before

