"""keras-zoo: a Keras 3 / TensorFlow model zoo with a KerasTuner harness.

import zoo
zoo.list_models("mlp*")
model = zoo.create_model("mlp_small", input_shape=(30,), num_classes=2)
result = zoo.train("mlp_small", "breast_cancer", run_dir="runs/mlp")
search = zoo.tune("mlp", "breast_cancer", run_dir="runs/mlp-search", max_trials=5)
zoo.predict("runs/mlp", ["data.csv"])
"""

import warnings

from zoo.errors import ConfigError, DataError, UnknownNameError, ZooError
from zoo.registry import create_model, list_models, register_model

# Keras warns when a dict of inputs is passed to a functional model whose
# inputs were declared in another order; the zoo's tabular models sort both.
warnings.filterwarnings("ignore", message=r"The structure of `inputs` doesn't match")

__version__ = "0.1.0"

_API = {
    "train": ("zoo.tuning.train", "train"),
    "tune": ("zoo.tuning.search", "tune"),
    "predict": ("zoo.tuning.predict", "predict"),
    "load_data": ("zoo.datasets.base", "load_data"),
    "list_datasets": ("zoo.datasets.base", "list_datasets"),
    "ZooHyperModel": ("zoo.tuning.hypermodel", "ZooHyperModel"),
    "CallbackOptions": ("zoo.tuning.callbacks", "CallbackOptions"),
    "make_callbacks": ("zoo.tuning.callbacks", "make_callbacks"),
    "build_index": ("zoo.tuning.indexing", "build_index_folder"),
    "search": ("zoo.tuning.indexing", "search"),
    "SemanticIndex": ("zoo.tuning.indexing", "SemanticIndex"),
}


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
    *_API,
]
