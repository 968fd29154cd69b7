"""`zoo optimizers`: SGD vs momentum vs Adam from scratch, and the worked example."""


def add_parsers(verbs):
    optimizers = verbs.add_parser(
        "optimizers",
        help="Loss curves and 2-D paths of SGD, momentum and Adam (NumPy, from "
        "scratch), and a worked gradient-descent table.",
    )
    optimizers.add_argument("--out", default="optimizers", help="Output folder.")
    optimizers.add_argument(
        "--steps", type=int, default=300, help="Training steps of the network."
    )
    optimizers.set_defaults(run=run_optimizers)


def run_optimizers(args):
    from zoo.fundamentals.compare_optimizers import (
        steps_to_reach,
        surface_paths,
        write_optimizer_comparison,
    )
    from zoo.fundamentals.worked_example import write_worked_example

    written = write_optimizer_comparison(args.out, steps=args.steps)
    written.update(write_worked_example(args.out))
    paths = surface_paths("quadratic")
    final = paths.groupby("optimizer", sort=False)["f"].last()
    reached = steps_to_reach(paths, 1e-3)
    for name, value in final.items():
        print(
            f"quadratic, {name:8s}: f after 100 steps {value:.2e}, "
            f"steps to f < 1e-3: {reached[name]}"
        )
    for path in written.values():
        print(path)
    return 0
