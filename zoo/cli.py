"""The `zoo` command line. It parses arguments and calls the Python API.

Every user mistake ends in one line on stderr and exit code 2.
"""

import argparse
import json
import os
import sys
import warnings


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"zoo: error: {message} (see `{self.prog} --help`)\n")


def _quiet():
    """Silences TensorFlow's start-up chatter so errors stay one line."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")
    warnings.filterwarnings("ignore")
    # TensorFlow's C++ logging writes to fd 2 at import, before any Python
    # setting applies; hide fd 2 only while the heavy modules import.
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            try:
                import tensorflow  # noqa: F401

                import datasets.sources  # noqa: F401
                import zoo.families  # noqa: F401
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)
    import absl.logging

    absl.logging.set_verbosity(absl.logging.ERROR)


def _data_arguments(parser):
    parser.add_argument(
        "--data", help="Embedded dataset name (`zoo datasets`) or a file/folder path."
    )
    parser.add_argument("--target", help="Target column of a table or text file.")
    parser.add_argument(
        "--features", help="Comma-separated feature columns (default: all)."
    )
    parser.add_argument("--text-column", help="Text column of a CSV/TSV text file.")
    parser.add_argument("--test-data", help="A separate test file for text data.")
    parser.add_argument(
        "--data-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="Any other loader option.",
    )


def _training_arguments(parser):
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="Override a model setting.",
    )
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--run-dir", required=True, help="Output folder.")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="Continue an interrupted run in --run-dir.",
    )
    parser.add_argument(
        "--monitor",
        help="Metric for checkpoints, early stopping and LR decay (default val_loss).",
    )
    parser.add_argument(
        "--early-stopping",
        type=int,
        metavar="PATIENCE",
        help="Epochs without improvement; 0: off.",
    )
    parser.add_argument(
        "--reduce-lr",
        type=int,
        metavar="PATIENCE",
        help="Halve the LR after N flat epochs; 0: off.",
    )
    parser.add_argument(
        "--lr-schedule",
        help="'step:0.95:3' (-5%% every 3 epochs) or 'cosine:WARMUP_EPOCHS'.",
    )
    parser.add_argument(
        "--histogram-freq",
        type=int,
        help="TensorBoard weight histograms every N epochs.",
    )
    parser.add_argument("--no-tensorboard", action="store_true")
    parser.add_argument(
        "--no-backup",
        action="store_true",
        help="Skip the per-epoch backup (big models); a killed run then cannot resume.",
    )
    parser.add_argument(
        "--verbose", type=int, default=2, help="Keras verbosity (0, 1 or 2)."
    )


def build_parser():
    parser = _Parser(
        prog="zoo", description="keras-zoo: train, tune and compare Keras models."
    )
    verbs = parser.add_subparsers(dest="verb", required=True, parser_class=_Parser)

    listing = verbs.add_parser("list", help="List registered models.")
    listing.add_argument("pattern", nargs="?", default="*")

    data = verbs.add_parser("datasets", help="List embedded datasets.")
    data.add_argument("--kind")

    train = verbs.add_parser("train", help="Train one model; writes a run folder.")
    train.add_argument("model")
    _data_arguments(train)
    _training_arguments(train)
    train.add_argument(
        "--strategy",
        choices=("mirrored", "multiworker"),
        help="Data-parallel training with tf.distribute (multiworker: set TF_CONFIG in each worker).",
    )
    train.add_argument(
        "--no-checkpoint",
        action="store_true",
        help="Keep the last epoch's weights instead of the best validation epoch's.",
    )
    train.add_argument(
        "--no-nan-guard",
        action="store_true",
        help="Do not stop when the loss or weights become NaN.",
    )

    tune = verbs.add_parser("tune", help="KerasTuner search over a model's space.")
    tune.add_argument("model")
    _data_arguments(tune)
    _training_arguments(tune)
    tune.add_argument(
        "--tuner", default="random", help="random, bayesian, hyperband or grid."
    )
    tune.add_argument("--max-trials", type=int, default=10)
    tune.add_argument("--objective", help="e.g. val_accuracy, val_auc, val_loss.")
    tune.add_argument("--direction", choices=("min", "max"))
    tune.add_argument("--executions-per-trial", type=int, default=1)
    tune.add_argument(
        "--space", help="JSON file (or inline JSON) narrowing the search space."
    )
    tune.add_argument(
        "--replace-space", action="store_true", help="Tune only what --space declares."
    )
    tune.add_argument(
        "--max-failed-trials",
        type=int,
        default=5,
        metavar="N",
        help="Stop after N failed trials in a row (default 5).",
    )
    tune.add_argument(
        "--no-nan-guard",
        action="store_true",
        help="Do not stop a trial when its loss or weights become NaN.",
    )
    tune.add_argument(
        "--no-report", action="store_true", help="Do not write report.html at the end."
    )
    tune.add_argument(
        "--distributed",
        choices=("chief", "worker", "local"),
        help="chief: run the oracle; worker: run trials for a chief; "
        "local: a chief and --workers workers on this machine.",
    )
    tune.add_argument(
        "--oracle-address",
        metavar="HOST:PORT",
        help="The chief's address (default 127.0.0.1:8000; local: a free port).",
    )
    tune.add_argument("--tuner-id", help="This worker's unique id (default: host-pid).")
    tune.add_argument(
        "--workers", type=int, default=2, help="Workers for --distributed local."
    )

    report = verbs.add_parser(
        "report", help="Write report.html for a tune, compare or train folder."
    )
    report.add_argument("run_dir")

    compare = verbs.add_parser(
        "compare", help="Train a list of named variations and compare them."
    )
    compare.add_argument(
        "configs", help="JSON file: a list of {name, model, set, epochs} entries."
    )
    _data_arguments(compare)
    compare.add_argument("--run-dir", required=True, help="Output folder.")
    compare.add_argument("--seed", type=int, default=0)
    compare.add_argument(
        "--verbose", type=int, default=0, help="Keras verbosity (0, 1 or 2)."
    )

    predict = verbs.add_parser("predict", help="Predict with a finished run's model.")
    predict.add_argument("run_dir")
    predict.add_argument(
        "inputs", nargs="+", help="CSV files or col=value rows, texts, or image files."
    )
    predict.add_argument(
        "--unsafe", action="store_true", help="Load models that safe mode refuses."
    )
    return parser


def _pairs(items, flag):
    from zoo.config import parse_set
    from zoo.errors import ConfigError

    try:
        return parse_set(items)
    except ConfigError as error:
        raise ConfigError(str(error).replace("--set", flag)) from None


def _data_options(args):
    options = _pairs(args.data_option, "--data-option")
    for name in ("target", "features", "text_column", "test_data"):
        value = getattr(args, name, None)
        if value is not None:
            options[name] = value
    return options


def _callback_options(args, **defaults):
    from tuning.callbacks import CallbackOptions

    options = CallbackOptions(**defaults)
    changes = {
        "monitor": args.monitor,
        "early_stopping_patience": args.early_stopping,
        "reduce_lr_patience": args.reduce_lr,
        "lr_schedule": args.lr_schedule,
        "histogram_freq": args.histogram_freq,
    }
    if args.no_tensorboard:
        changes["tensorboard"] = False
    if getattr(args, "no_backup", False):
        changes["backup"] = False
    import dataclasses

    return dataclasses.replace(
        options, **{k: v for k, v in changes.items() if v is not None}
    )


def _space(text):
    from zoo.errors import ConfigError

    if text is None:
        return None
    try:
        if os.path.exists(text):
            with open(text, encoding="utf-8") as handle:
                return json.load(handle)
        return json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(
            f"Cannot read --space {text!r} as JSON ({error.msg if hasattr(error, 'msg') else error})."
        ) from None


def _tune_argv_without_distribution(argv):
    """`zoo tune` arguments minus the options that pick a distributed role."""
    kept, skip = [], False
    for item in argv:
        if skip:
            skip = False
            continue
        name = item.split("=", 1)[0]
        if name in ("--distributed", "--oracle-address", "--tuner-id", "--workers"):
            skip = "=" not in item
            continue
        kept.append(item)
    return kept


def run(args, argv=None):
    if args.verb == "list":
        from zoo.registry import get_entry, get_family, list_models

        for name in list_models(args.pattern):
            family = get_family(name)
            try:
                description = get_entry(name).description
            except KeyError:
                description = f"(family default) {family.description}"
            print(f"{name:28s} {family.name:18s} {description}")
        return 0
    if args.verb == "datasets":
        from datasets.base import list_datasets

        for entry in list_datasets(kind=args.kind):
            print(f"{entry.name:20s} {entry.kind:11s} {entry.description}")
        return 0
    if args.verb == "train":
        from tuning.train import train

        result = train(
            args.model,
            args.data,
            run_dir=args.run_dir,
            epochs=args.epochs,
            batch_size=args.batch_size,
            overrides=_pairs(args.set, "--set"),
            data_options=_data_options(args),
            callbacks=_callback_options(
                args,
                checkpoint=not args.no_checkpoint,
                terminate_on_nan=not args.no_nan_guard,
            ),
            resume=args.resume,
            seed=args.seed,
            verbose=args.verbose,
            strategy=args.strategy,
        )
        print(json.dumps(result.metrics, indent=2))
        print(f"run folder:  {os.path.abspath(result.run_dir)}")
        print(
            f"model:       {os.path.abspath(os.path.join(result.run_dir, 'model.keras'))}"
        )
        print(
            f"TensorBoard: tensorboard --logdir {os.path.abspath(os.path.join(result.run_dir, 'logs'))}"
        )
        return 0
    if args.verb == "tune":
        import dataclasses

        from tuning import distributed
        from tuning.search import tune

        if args.distributed == "local":
            return distributed.launch_local(
                _tune_argv_without_distribution(
                    sys.argv[2:] if argv is None else argv[1:]
                ),
                workers=args.workers,
                port=distributed.parse_address(args.oracle_address)[1]
                if args.oracle_address
                else None,
            )
        if args.distributed:
            distributed.configure_search(
                args.distributed, args.oracle_address, args.tuner_id
            )
        callbacks = _callback_options(args)
        if args.no_nan_guard:
            callbacks = dataclasses.replace(callbacks, terminate_on_nan=False)
        result = tune(
            args.model,
            args.data,
            run_dir=args.run_dir,
            tuner=args.tuner,
            max_trials=args.max_trials,
            epochs=args.epochs,
            objective=args.objective,
            direction=args.direction,
            executions_per_trial=args.executions_per_trial,
            space=_space(args.space),
            replace_space=args.replace_space,
            overrides=_pairs(args.set, "--set"),
            data_options=_data_options(args),
            callbacks=callbacks,
            resume=args.resume,
            seed=args.seed,
            verbose=0 if args.verbose == 2 else args.verbose,
            max_consecutive_failed_trials=args.max_failed_trials,
            report=not args.no_report,
        )
        if result.results.empty:
            print(f"worker {os.environ.get('KERASTUNER_TUNER_ID')}: no more trials.")
            return 0
        import pandas as pd

        with pd.option_context("display.width", 160, "display.max_columns", 20):
            print(
                result.results.drop(columns=["reason"], errors="ignore").to_string(
                    index=False
                )
            )
        print(
            f"best trial:  {result.best_metrics.get('best_trial_id')}  test metrics: "
            + ", ".join(
                f"{k}={v:.4f}"
                for k, v in result.best_metrics.items()
                if isinstance(v, float)
            )
        )
        root = os.path.abspath(result.run_dir)
        print(f"results:     {os.path.join(root, 'results.csv')}")
        print(f"best model:  {os.path.join(root, 'best', 'model.keras')}")
        print(f"TensorBoard: tensorboard --logdir {os.path.join(root, 'logs')}")
        report = os.path.join(root, "report.html")
        if os.path.exists(report):
            print(f"report:      {report}")
        return 0
    if args.verb == "report":
        from tuning.report import leaderboard, write_report

        path = write_report(args.run_dir)
        print(leaderboard(args.run_dir).to_string(index=False))
        print(f"report:      {os.path.abspath(path)}")
        return 0
    if args.verb == "compare":
        from tuning.compare import compare

        result = compare(
            args.configs,
            args.data,
            run_dir=args.run_dir,
            data_options=_data_options(args),
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
    if args.verb == "predict":
        from tuning.predict import predict

        frame = predict(args.run_dir, args.inputs, safe_mode=not args.unsafe)
        print(frame.to_string(index=False))
        return 0
    raise AssertionError(args.verb)


def main(argv=None):
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, or a usage error already printed.
        return exit_.code
    _quiet()
    from zoo.errors import ZooError

    try:
        return run(args, argv)
    except ZooError as error:
        print(f"zoo: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("zoo: interrupted; rerun with --resume to continue.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
