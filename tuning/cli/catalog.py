"""`zoo list`, `zoo datasets` and `zoo info`: what is registered.

They read `zoo/catalog.json` (`zoo.catalog`), so they answer without
importing TensorFlow; `python -m zoo.tuning.cli.catalog` regenerates it from
the live registry and `tests/zoo/test_catalog.py` fails when it is stale.
"""

import dataclasses
import json
import typing

from zoo import catalog


def add_parsers(verbs):
    listing = verbs.add_parser(
        "list", help="List registered models (`zoo info MODEL` for one's settings)."
    )
    listing.add_argument(
        "pattern", nargs="?", default="*", help="Glob over model names, e.g. 'mlp*'."
    )
    listing.set_defaults(run=run_list, fast=True)

    data = verbs.add_parser(
        "datasets", help="List embedded datasets, each once with its data kinds."
    )
    data.add_argument(
        "--kind", help="Only datasets of this kind (tabular, image, ...)."
    )
    data.set_defaults(run=run_datasets, fast=True)

    info = verbs.add_parser(
        "info", help="A model's family, data, tasks and `--set` keys with defaults."
    )
    info.add_argument("model", help="Model or family name (see `zoo list`).")
    info.set_defaults(run=run_info, fast=True)


def run_list(args):
    for row in catalog.models(args.pattern):
        print(f"{row['name']:28s} {row['family']:18s} {row['description']}")
    return 0


def run_datasets(args):
    for record in catalog.read_catalog()["datasets"]:
        if args.kind and args.kind not in record["kinds"]:
            continue
        kinds = ",".join(record["kinds"])
        description = record["descriptions"][args.kind or record["kinds"][0]]
        print(f"{record['name']:16s} {kinds:24s} {description}")
    return 0


def run_info(args):
    from zoo.errors import unknown_name

    info = catalog.model_info(args.model)
    if info is None:
        names = [row["name"] for row in catalog.models()]
        raise unknown_name("model", args.model, names)
    print(f"{info['name']}  (family {info['family']}): {info['description']}")
    print(f"data kind: {info['data_kind']}   default data: {info['default_data']}")
    print(f"tasks: {', '.join(info['tasks'])}")
    print("settings (--set KEY=VALUE):")
    for setting in info["settings"]:
        default = json.dumps(setting["default"])
        print(f"  {setting['name']:28s} {setting['type']:24s} default {default}")
    space = info.get("search_space") or {}
    if space:
        print("search space of `zoo tune` (replace or extend with --space FILE):")
        for name, rule in space.items():
            print(f"  {name:28s} {_describe_rule(rule)}")
    return 0


def _describe_rule(rule):
    """One search-space rule as a short phrase: choices, or a range."""
    if isinstance(rule, dict) and "values" in rule:
        text = _describe_rule(rule["values"])
        return text + (f" (default {rule['default']})" if "default" in rule else "")
    if isinstance(rule, list):
        return "one of " + ", ".join(json.dumps(value) for value in rule)
    if isinstance(rule, dict) and "min" in rule:
        text = f"{rule['min']} to {rule['max']}"
        if rule.get("step"):
            text += f" step {rule['step']}"
        if rule.get("sampling"):
            text += f", {rule['sampling']} sampling"
        if "default" in rule:
            text += f" (default {rule['default']})"
        return text
    return json.dumps(rule)


def build_catalog():
    """The catalog from the live registry (imports every family and dataset)."""
    from zoo.datasets.base import list_datasets
    from zoo.registry import get_entry, get_family, list_families, list_models

    families = {}
    for name in list_families():
        family = get_family(name)
        families[name] = {
            "description": family.description,
            "data_kind": family.data_kind,
            "default_data": family.default_data,
            "tasks": list(family.tasks),
            "settings": _settings(family.config_class()),
            "search_space": family.search_space,
        }
    models = []
    for name in list_models():
        if name in families:
            continue
        entry = get_entry(name)
        models.append(
            {
                "name": name,
                "family": entry.family,
                "description": entry.description,
                "tiny": bool(entry.tiny),
                "settings": _settings(entry.make_config()),
            }
        )
    datasets = {}
    for entry in list_datasets():
        record = datasets.setdefault(
            entry.name, {"name": entry.name, "kinds": [], "descriptions": {}}
        )
        record["kinds"].append(entry.kind)
        record["descriptions"][entry.kind] = entry.description
    return {
        "families": families,
        "models": models,
        "datasets": sorted(datasets.values(), key=lambda d: d["name"]),
    }


def _settings(config):
    """`--set` keys of a config: name, default and type."""
    hints = typing.get_type_hints(type(config))
    settings = []
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if isinstance(value, tuple):
            value = list(value)
        if not isinstance(value, str | int | float | bool | list | type(None)):
            value = repr(value)
        kind = hints.get(field.name, field.type)
        if typing.get_origin(kind) is typing.Literal:
            kind = "one of " + "|".join(str(arg) for arg in typing.get_args(kind))
        kind = getattr(kind, "__name__", None) or str(kind).replace("typing.", "")
        settings.append({"name": field.name, "default": value, "type": str(kind)})
    return settings


if __name__ == "__main__":
    with open(catalog.PATH, "w", encoding="utf-8") as handle:
        json.dump(build_catalog(), handle, indent=1, sort_keys=True)
        handle.write("\n")
    print(f"wrote {catalog.PATH}")
