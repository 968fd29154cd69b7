"""The layering rule of docs/design.md, checked on every module's imports.

Each module sits on a layer and imports only from its own layer or below;
the import graph has no cycle; first-party imports inside functions are kept
for the two places that must start fast (the `zoo` facade and the CLI).
"""

import ast
import configparser
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
FOLDERS = {"zoo": "zoo", "datasets": "zoo.datasets", "tuning": "zoo.tuning"}

# Lowest first. A module takes the layer of the longest prefix that names it.
LAYERS = [
    ("errors and config", ["zoo.errors", "zoo.config"]),
    ("model core", ["zoo."]),
    ("families and data", ["zoo.models", "zoo.datasets"]),
    (
        "runner",
        [
            "zoo.tuning.io",
            "zoo.tuning.runspec",
            "zoo.tuning.checks",
            "zoo.tuning.internals",
            "zoo.tuning.callbacks",
            "zoo.tuning.artifacts",
            "zoo.tuning.distributed",
            "zoo.tuning.train",
        ],
    ),
    (
        "reading results",
        [
            "zoo.tuning.results",
            "zoo.tuning.predict",
            "zoo.tuning.export",
            "zoo.tuning.report",
            "zoo.tuning.report_charts",
            "zoo.tuning.report_tables",
        ],
    ),
    (
        "search",
        [
            "zoo.tuning.spaces",
            "zoo.tuning.tuners",
            "zoo.tuning.hypermodel",
            "zoo.tuning.search",
        ],
    ),
    ("comparing", ["zoo.tuning.compare", "zoo.tuning."]),
    ("command line", ["zoo.tuning.cli"]),
    ("facade", ["zoo"]),
]
# Data pipelines know only errors, config and the preprocessing layers.
DATA_MAY_IMPORT = ("zoo.errors", "zoo.config", "zoo.layers", "zoo.datasets")
LAZY_ALLOWED = ("zoo", "zoo.tuning.cli")


def _modules():
    found = {}
    for folder, package in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            if parts and parts[-1] == "__main__":
                continue
            found[".".join([package, *parts])] = path
    return found


MODULES = _modules()


def layer_of(module):
    best, best_length = None, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            matches = module == prefix.rstrip(".") or (
                module.startswith(prefix)
                if prefix.endswith(".")
                else module.startswith(prefix + ".")
            )
            if matches and len(prefix) > best_length:
                best, best_length = index, len(prefix)
    return best


def _resolve(name):
    """The first-party module an import names, or None."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports(module):
    """`[(imported module, inside a function)]` of a first-party module."""
    tree = ast.parse(MODULES[module].read_text())
    found = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef
            )
            if isinstance(child, ast.Import):
                names = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom) and child.level == 0:
                base = child.module or ""
                names = [f"{base}.{alias.name}" for alias in child.names]
            else:
                visit(child, nested)
                continue
            for name in names:
                target = _resolve(name)
                if target is not None and target != module:
                    found.append((target, in_function))

    visit(tree, False)
    return found


def test_every_module_has_a_layer():
    assert MODULES, "no modules found"
    assert [m for m in MODULES if layer_of(m) is None] == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_down(module):
    upward = [
        f"{module} ({LAYERS[layer_of(module)][0]}) imports {target} ({LAYERS[layer_of(target)][0]})"
        for target, _ in imports(module)
        if layer_of(target) > layer_of(module) and not module.startswith(target + ".")
    ]
    assert upward == []
    if module.startswith("zoo.datasets"):
        assert [
            t for t, _ in imports(module) if not t.startswith(DATA_MAY_IMPORT)
        ] == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_first_party_imports_are_at_the_top(module):
    if module == "zoo" or module.startswith(LAZY_ALLOWED[1]):
        return
    assert [t for t, lazy in imports(module) if lazy] == []


def test_no_import_cycles():
    graph = {
        m: {t for t, _ in imports(m) if not m.startswith(t + ".")} for m in MODULES
    }
    state, path = {}, []

    def walk(node):
        state[node] = "open"
        path.append(node)
        for target in graph[node]:
            if state.get(target) == "open":
                cycle = path[path.index(target) :] + [target]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if target not in state:
                walk(target)
        path.pop()
        state[node] = "done"

    for module in sorted(graph):
        if module not in state:
            walk(module)


def test_internal_modules_do_not_import_the_facade():
    # `from zoo import train` inside the package would hide an upward import.
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module == "zoo"
                and module != "zoo"
            ):
                names = [alias.name for alias in node.names]
                assert all(f"zoo.{n}" in MODULES for n in names), (module, names)


def test_setup_cfg_lists_every_package():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    listed = set(config["options"]["packages"].split())
    packages = {name for name, path in MODULES.items() if path.name == "__init__.py"}
    assert packages == listed


def test_the_model_package_holds_no_hyperparameter_code():
    for module, path in MODULES.items():
        if module.startswith(("zoo.tuning", "zoo.datasets")) or module == "zoo":
            continue
        text = path.read_text()
        assert "keras_tuner" not in text, module
        assert "hp." not in text, module


def test_the_datasets_folder_does_not_hide_an_installed_datasets(tmp_path):
    # Python started in the repository root sees `datasets/` first on sys.path;
    # an installed package of that name (Hugging Face's) must still win.
    fake = tmp_path / "datasets"
    fake.mkdir()
    (fake / "__init__.py").write_text("def load_dataset():\n    return 'installed'\n")
    script = (
        "import datasets, zoo.datasets.base\n"
        "print(datasets.load_dataset(), zoo.datasets.base.__name__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["installed", "zoo.datasets.base"]
