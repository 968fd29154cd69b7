"""`zoo report`, `zoo compare`, `zoo predict` and `zoo export`: reading and
comparing runs."""

import os

from zoo.tuning.cli.options import data_arguments, data_options


def add_parsers(verbs):
    report = verbs.add_parser(
        "report", help="Write report.html for a tune, compare or train folder."
    )
    report.add_argument("run_dir", help="A `zoo tune` run folder.")
    report.set_defaults(run=run_report)

    compare = verbs.add_parser(
        "compare", help="Train a list of named variations and compare them."
    )
    compare.add_argument(
        "configs", help="JSON file: a list of {name, model, set, epochs} entries."
    )
    data_arguments(compare)
    compare.add_argument("--run-dir", required=True, help="Output folder.")
    compare.add_argument(
        "--seed", type=int, default=0, help="Seed of the split and weights."
    )
    compare.add_argument(
        "--verbose", type=int, default=0, help="Keras verbosity (0, 1 or 2)."
    )
    compare.set_defaults(run=run_compare)

    predict = verbs.add_parser("predict", help="Predict with a finished run's model.")
    predict.add_argument("run_dir", help="A finished `zoo train` or `zoo tune` run.")
    predict.add_argument(
        "inputs", nargs="+", help="CSV files or col=value rows, texts, or image files."
    )
    predict.add_argument(
        "--unsafe", action="store_true", help="Load models that safe mode refuses."
    )
    predict.add_argument(
        "--draw",
        metavar="FOLDER",
        help="Box models: write each image with its boxes drawn into FOLDER.",
    )
    predict.set_defaults(run=run_predict)

    export = verbs.add_parser(
        "export",
        help="Write a finished run's model as a TensorFlow SavedModel (serves raw inputs without the zoo).",
    )
    export.add_argument("run_dir", help="A finished `zoo train` or `zoo tune` run.")
    export.add_argument("out", help="The SavedModel folder to write (must be new).")
    export.add_argument(
        "--unsafe", action="store_true", help="Load models that safe mode refuses."
    )
    export.set_defaults(run=run_export)


def run_report(args):
    from zoo.tuning.report import leaderboard, write_report

    path = write_report(args.run_dir)
    print(leaderboard(args.run_dir).to_string(index=False))
    print(f"report:      {os.path.abspath(path)}")
    return 0


def run_compare(args):
    from zoo.tuning.compare import compare

    result = compare(
        args.configs,
        args.data,
        run_dir=args.run_dir,
        data_options=data_options(args),
        seed=args.seed,
        verbose=args.verbose,
    )
    import pandas as pd

    with pd.option_context("display.width", 160, "display.max_columns", 30):
        print(result.table.to_string(index=False))
    root = os.path.abspath(result.run_dir)
    print(f"comparison:  {os.path.join(root, 'comparison.csv')}")
    print(f"report:      {os.path.join(root, 'report.html')}")
    return 0


def run_predict(args):
    from zoo.tuning.predict import predict

    frame = predict(
        args.run_dir, args.inputs, safe_mode=not args.unsafe, draw_dir=args.draw
    )
    print(frame.to_string(index=False))
    return 0


def run_export(args):
    from zoo.tuning.export import export

    path = export(args.run_dir, args.out, safe_mode=not args.unsafe)
    print(f"SavedModel:  {path}")
    print(f"serve:       tf.saved_model.load({path!r}).serve(raw_inputs)")
    return 0
