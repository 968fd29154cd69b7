"""Imports every dataset module so that its loaders register themselves."""

import importlib

DATASET_MODULES = (
    "datasets.tabular",
    "datasets.images",
    "datasets.text",
    "datasets.timeseries",
    "datasets.vae_images",
)


for _module in DATASET_MODULES:
    importlib.import_module(_module)
