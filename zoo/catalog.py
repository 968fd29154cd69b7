"""A static description of the registry, read without importing TensorFlow.

`zoo list`, `zoo datasets`, `zoo info` and `zoo --help` answer in about a
second because they read `zoo/catalog.json` instead of importing the family
and dataset modules (which import TensorFlow: ~8 s of CPU). The file is
generated from the live registry (`python -m zoo.tuning.cli.catalog`) and
`tests/zoo/test_catalog.py` fails when it is stale, so it cannot drift.
Why a generated file and not `ast`: datasets are registered in loops
(`register_dataset(name, ...)(load)`) that only running the code reveals.
"""

import fnmatch
import json
import os

PATH = os.path.join(os.path.dirname(__file__), "catalog.json")


def read_catalog():
    """The catalog as written in `zoo/catalog.json`."""
    with open(PATH, encoding="utf-8") as handle:
        return json.load(handle)


def models(pattern="*"):
    """Model records (families first as `(family default)`) matching a glob."""
    catalog = read_catalog()
    rows = [
        {
            "name": name,
            "family": name,
            "description": f"(family default) {f['description']}",
        }
        for name, f in catalog["families"].items()
    ] + catalog["models"]
    return sorted(
        (r for r in rows if fnmatch.fnmatch(r["name"], pattern)),
        key=lambda r: r["name"],
    )


def model_info(name):
    """Everything the catalog knows of one model or family; None if unknown."""
    catalog = read_catalog()
    if name in catalog["families"]:
        family = catalog["families"][name]
        return {"name": name, "family": name, **family}
    for model in catalog["models"]:
        if model["name"] == name:
            family = catalog["families"][model["family"]]
            return {**family, **model}
    return None
