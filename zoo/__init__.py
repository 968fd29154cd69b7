"""keras-zoo: a Keras 3 / TensorFlow model zoo with a KerasTuner harness.

import zoo
zoo.list_models("mlp*")
model = zoo.create_model("mlp_small", input_shape=(30,), num_classes=2)
result = zoo.train("mlp_small", "breast_cancer", run_dir="runs/mlp")
search = zoo.tune("mlp", "breast_cancer", run_dir="runs/mlp-search", max_trials=5)
zoo.predict("runs/mlp", ["data.csv"])
zoo.export("runs/mlp", "served/mlp")  # A SavedModel that serves without the zoo.
"""

import importlib.abc
import importlib.machinery
import sys
import warnings

from zoo.errors import ConfigError, DataError, UnknownNameError, ZooError
from zoo.registry import create_model, list_models, register_model

# Keras warns when a dict of inputs is passed to a functional model whose
# inputs were declared in another order; the zoo's tabular models sort both.
warnings.filterwarnings("ignore", message=r"The structure of `inputs` doesn't match")
# The tabular models take their columns under the table's own names, while
# their Input layers carry the Keras-safe names (`a/b` -> `a_b`): by design.
warnings.filterwarnings(
    "ignore", message=r"When providing `inputs` as a dict, all keys in the dict"
)

__version__ = "0.1.0"

_API = {
    "train": ("zoo.tuning.train", "train"),
    "tune": ("zoo.tuning.search", "tune"),
    "predict": ("zoo.tuning.predict", "predict"),
    "export": ("zoo.tuning.export", "export"),
    "load_data": ("zoo.datasets.base", "load_data"),
    "list_datasets": ("zoo.datasets.base", "list_datasets"),
    "ZooHyperModel": ("zoo.tuning.hypermodel", "ZooHyperModel"),
    "CallbackOptions": ("zoo.tuning.callbacks", "CallbackOptions"),
    "make_callbacks": ("zoo.tuning.callbacks", "make_callbacks"),
    "build_index": ("zoo.tuning.indexing", "build_index_folder"),
    "search": ("zoo.tuning.indexing", "search"),
    "SemanticIndex": ("zoo.tuning.indexing", "SemanticIndex"),
}


def register_saved_objects():
    """Registers every class a saved zoo model may name (`zoo>...`).

    Runs by itself once Keras is imported after `import zoo` (or at once if
    it already was), so `keras.saving.load_model(path, safe_mode=True)`
    loads any zoo model after a bare `import zoo`. It imports the family
    modules, which import TensorFlow: `import zoo` alone stays fast.
    """
    from zoo.registry import load_families

    load_families()


def _imported_by_the_zoo():
    """True while the top-level code of a `zoo.*` module is on the stack."""
    frame = sys._getframe(1)
    while frame is not None:
        name = frame.f_globals.get("__name__", "")
        if frame.f_code.co_name == "<module>" and name.startswith("zoo."):
            return True
        frame = frame.f_back
    return False


class _RegisterAfterKeras(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Runs `register_saved_objects` right after `import keras` completes.

    Why an import hook: `import zoo` must not import TensorFlow (`zoo list`
    answers in a second), yet Keras resolves `zoo>Class` names from its own
    registry, filled only when our modules are imported. The hook wraps
    Keras' loader once and removes itself.
    """

    def find_spec(self, name, path=None, target=None):
        if name != "keras":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return None
        self._loader = spec.loader
        spec.loader = self
        return spec

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        self._loader.exec_module(module)
        if _imported_by_the_zoo():
            # A zoo module importing Keras is mid-import itself; importing the
            # families now would import it again half-built. The zoo's entry
            # points that load models (`load_run`, the registry) register.
            return
        try:
            register_saved_objects()
        except ImportError as error:  # An optional family's extra is missing.
            warnings.warn(
                f"zoo: some models are not registered ({error}).", stacklevel=2
            )


if "keras" in sys.modules:
    register_saved_objects()
elif not any(isinstance(f, _RegisterAfterKeras) for f in sys.meta_path):
    sys.meta_path.insert(0, _RegisterAfterKeras())


def __getattr__(name):
    # The runner lives in `tuning/`, which imports `zoo`: load it lazily.
    if name in _API:
        import importlib

        module, attribute = _API[name]
        return getattr(importlib.import_module(module), attribute)
    raise AttributeError(f"module 'zoo' has no attribute {name!r}")


__all__ = [
    "ConfigError",
    "DataError",
    "UnknownNameError",
    "ZooError",
    "create_model",
    "list_models",
    "register_model",
    "register_saved_objects",
    *_API,
]
