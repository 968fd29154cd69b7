"""`zoo list` and `zoo datasets`: what is registered."""


def add_parsers(verbs):
    listing = verbs.add_parser("list", help="List registered models.")
    listing.add_argument("pattern", nargs="?", default="*")
    listing.set_defaults(run=run_list)

    data = verbs.add_parser("datasets", help="List embedded datasets.")
    data.add_argument("--kind")
    data.set_defaults(run=run_datasets)


def run_list(args):
    from zoo.registry import get_entry, get_family, list_models

    for name in list_models(args.pattern):
        family = get_family(name)
        try:
            description = get_entry(name).description
        except KeyError:
            description = f"(family default) {family.description}"
        print(f"{name:28s} {family.name:18s} {description}")
    return 0


def run_datasets(args):
    from zoo.datasets.base import list_datasets

    for entry in list_datasets(kind=args.kind):
        print(f"{entry.name:20s} {entry.kind:11s} {entry.description}")
    return 0
