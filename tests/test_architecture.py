"""The package's shape: stages import only lower stages, nothing edits sys.path or sys.argv, importing changes nothing."""

import ast
import json
import os
import subprocess
import sys

from conftest import REPO, TYBALT_DIR

PACKAGE = "tybalt_core"
PACKAGE_DIR = os.path.join(TYBALT_DIR, PACKAGE)
# Lowest first: a module may import from its own stage and the stages before it, never from a later one.
LAYERS = ("common", "data", "config", "models", "train", "analysis", "run", "tune", "candle")
ENTRY_MODULES = {"tybalt", "tybalt_baseline_keras2", "upf_runner", "hpo_results", "workflow_files", "compare_runs",
                 "latent_sweep"}
# The Supervisor stand-in and the latent sweep import the benchmark by name, as CANDLE's model_runner.py does.
ENTRY_IMPORTS_ALLOWED = {("candle", "tybalt_baseline_keras2")}
# Modules whose job is TensorFlow: importing them imports it (and nothing else changes).
TENSORFLOW_MODULES = {"models.backend", "models.autoencoders", "models.saved_models", "train.input_pipeline",
                      "train.training", "train.resumable_training", "train.campaign_pruning", "tune.tuning"}


def package_modules() -> dict[str, str]:
    """Dotted name inside the package (e.g. 'data.tcga') -> file path, for every module of every stage."""
    modules = {}
    for layer in LAYERS:
        for name in sorted(os.listdir(os.path.join(PACKAGE_DIR, layer))):
            if name.endswith(".py") and name != "__init__.py":
                modules[f"{layer}.{name[:-3]}"] = os.path.join(PACKAGE_DIR, layer, name)
    return modules


def imported_names(path: str) -> set[str]:
    """Every module name a file imports, at the top or inside a function."""
    with open(path) as handle:
        tree = ast.parse(handle.read())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_every_stage_imports_only_its_own_and_lower_stages():
    wrong = []
    for module, path in package_modules().items():
        layer = module.split(".")[0]
        for name in imported_names(path):
            parts = name.split(".")
            if parts[0] == PACKAGE and len(parts) > 1 and LAYERS.index(parts[1]) > LAYERS.index(layer):
                wrong.append(f"{module} imports {name} (stage {parts[1]} is above {layer})")
            if parts[0] in ENTRY_MODULES and (layer, parts[0]) not in ENTRY_IMPORTS_ALLOWED:
                wrong.append(f"{module} imports the entry module {parts[0]}")
    assert not wrong, "\n".join(wrong)


def test_stages_folders_hold_every_module():
    assert sorted(name for name in os.listdir(PACKAGE_DIR) if not name.startswith(("_", "."))) == sorted(LAYERS)
    entry_files = {name[:-3] for name in os.listdir(TYBALT_DIR) if name.endswith(".py")}
    assert entry_files == ENTRY_MODULES


def test_package_modules_import_no_cycle():
    modules = package_modules()
    graph = {module: {name.split(".", 1)[1] for name in imported_names(path) if name.startswith(PACKAGE + ".")
                      and name.split(".", 1)[1] in modules} for module, path in modules.items()}
    visiting, done = set(), set()

    def visit(module: str, chain: tuple[str, ...]) -> None:
        assert module not in visiting, "import cycle: " + " -> ".join(chain + (module,))
        if module in done:
            return
        visiting.add(module)
        for imported in graph[module]:
            visit(imported, chain + (module,))
        visiting.discard(module)
        done.add(module)

    for module in graph:
        visit(module, ())


def test_no_sys_path_or_sys_argv_edits_in_the_package_or_the_tests():
    folders = [PACKAGE_DIR, os.path.join(REPO, "tests")]
    paths = [os.path.join(root, name) for folder in folders for root, _, names in os.walk(folder)
             for name in names if name.endswith(".py")]
    edits = []
    for path in paths:
        with open(path) as handle:
            source = handle.read()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Assign) and any(ast.unparse(target) == "sys.argv" for target in node.targets):
                edits.append(f"{path}:{node.lineno} assigns sys.argv")
            if isinstance(node, ast.Call) and ast.unparse(node.func).startswith("sys.path."):
                edits.append(f"{path}:{node.lineno} edits sys.path")
        for marker in ("sys.path.insert", "sys.argv = ", '(sys, "argv"'):  # also code run in fresh processes
            if marker in source and path != __file__:
                edits.append(f"{path}: {marker}")
    assert not edits, "\n".join(edits)


IMPORT_PROBE = """
import gc, importlib, json, os, sys
{preload}
found = []
for module in {modules!r}:
    environment = dict(os.environ)
    importlib.import_module("tybalt_core." + module)
    found.append({{"module": module, "environment_changed": dict(os.environ) != environment,
                  "gc_frozen": gc.get_freeze_count(), "tensorflow": "tensorflow" in sys.modules}})
print(json.dumps(found))
"""


def import_one_by_one(modules: list[str], preload: str = "") -> list[dict]:
    """Import the modules in a fresh process one after the other (after ``preload``), noting what each changed."""
    environment = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run([sys.executable, "-c", IMPORT_PROBE.format(modules=modules, preload=preload)], capture_output=True,
                          text=True, timeout=300, env=environment)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.splitlines()[-1])


def test_importing_a_module_changes_no_environment_garbage_collector_or_tensorflow():
    plain = [module for module in package_modules() if module not in TENSORFLOW_MODULES]
    for found in import_one_by_one(plain):
        assert found == {"module": found["module"], "environment_changed": False, "gc_frozen": 0,
                         "tensorflow": False}


def test_importing_a_tensorflow_module_leaves_environment_and_garbage_collector_alone():
    tensorflow_alone = "import tensorflow, keras, tf_keras"  # TensorFlow's own import sets TF2_BEHAVIOR and more
    for found in import_one_by_one(sorted(TENSORFLOW_MODULES), tensorflow_alone):
        assert (found["module"], found["environment_changed"], found["gc_frozen"]) == (found["module"], False, 0)
        assert found["tensorflow"]


def test_set_up_tensorflow_quiets_its_logs_and_freezes_its_objects_once():
    probe = ("import gc, os, sys\nfrom tybalt_core.models.tensorflow_setup import set_up_tensorflow\n"
             "set_up_tensorflow(); frozen = gc.get_freeze_count(); set_up_tensorflow()\n"
             "print(os.environ['TF_CPP_MIN_LOG_LEVEL'], frozen > 100000, gc.get_freeze_count() == frozen, "
             "'tensorflow' in sys.modules)")
    environment = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300,
                          env=environment)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["2", "True", "True", "True"]
