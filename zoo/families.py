"""Imports every family module so that its models register themselves."""

import importlib

FAMILY_MODULES = (
    "zoo.mlp",
    "zoo.cnn",
    "zoo.vgg16_transfer",
    "zoo.char_cnn",
    "zoo.lstm",
    "zoo.joint_vae",
    "zoo.bert_classifier",
)


for _module in FAMILY_MODULES:
    importlib.import_module(_module)
