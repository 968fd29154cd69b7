"""`zoo tune`: a KerasTuner search, alone or distributed."""

import os
import sys

from zoo.tuning.cli.options import (
    callback_options,
    data_arguments,
    data_options,
    pairs,
    read_space,
    training_arguments,
)


def add_parsers(verbs):
    tune = verbs.add_parser(
        "tune",
        help="KerasTuner search over a model's space.",
        description="KerasTuner search over a model's space. One line is printed "
        "per trial as it ends (its number, hyperparameters, score, the best so far, "
        "elapsed and estimated remaining time), from distributed workers too; "
        "--verbose 2 adds Keras' epoch lines, --verbose 1 KerasTuner's tables and "
        "progress bars. Each trial stops early after 10 epochs without improvement "
        "of the objective (--early-stopping).",
    )
    tune.add_argument("model", help="Model or family name (see `zoo list`).")
    data_arguments(tune)
    training_arguments(tune)
    tune.set_defaults(verbose=0)
    tune.add_argument(
        "--tuner", default="random", help="random, bayesian, hyperband or grid."
    )
    tune.add_argument(
        "--max-trials",
        type=int,
        help="Trials to run (default 10; Hyperband: an upper bound). With --resume, "
        "a larger value than the saved one runs the extra trials.",
    )
    tune.add_argument("--objective", help="e.g. val_accuracy, val_auc, val_loss.")
    tune.add_argument(
        "--direction",
        choices=("min", "max"),
        help="Whether the objective is minimised or maximised (default: from its name).",
    )
    tune.add_argument(
        "--executions-per-trial",
        type=int,
        default=1,
        help="Fits per trial; the score is their mean.",
    )
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
        "local: a chief and --workers workers on this machine. The oracle has no "
        "authentication: anyone who reaches its port can read and steer the "
        "search, so give --oracle-address other than 127.0.0.1 only on a "
        "trusted network.",
    )
    tune.add_argument(
        "--oracle-address",
        metavar="HOST:PORT",
        help="The chief's address (default 127.0.0.1:8000; local: a free port). "
        "Unauthenticated: expose it only on a trusted network.",
    )
    tune.add_argument("--tuner-id", help="This worker's unique id (default: host-pid).")
    tune.add_argument(
        "--workers", type=int, default=2, help="Workers for --distributed local."
    )
    tune.add_argument(
        "--chief-timeout",
        type=float,
        default=300,
        metavar="SECONDS",
        help="How long a worker waits for its chief to answer (default 300).",
    )
    tune.add_argument(
        "--trials-per-worker",
        type=int,
        metavar="N",
        help="A worker process stops after N trials and --distributed local starts "
        "a fresh one: memory stays flat over a long search (e.g. 25; default: no "
        "limit). With one machine: --distributed local --workers 1 --trials-per-worker N.",
    )
    tune.set_defaults(run=run_tune)


def run_tune(args, argv=None):
    import dataclasses

    from zoo.baselines import comparison_line
    from zoo.tuning import distributed

    if args.distributed == "local":
        return distributed.launch_local(
            _tune_argv_without_distribution(sys.argv[2:] if argv is None else argv[1:]),
            workers=args.workers,
            port=distributed.parse_address(args.oracle_address)[1]
            if args.oracle_address
            else None,
        )
    # Imported after the local launcher has returned: it only waits on its
    # processes, and TensorFlow would cost it a gigabyte of memory.
    from zoo.tuning.search import tune

    if args.distributed:
        distributed.configure_search(
            args.distributed, args.oracle_address, args.tuner_id
        )
    callbacks = callback_options(args)
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
        space=read_space(args.space),
        replace_space=args.replace_space,
        overrides=pairs(args.set, "--set"),
        data_options=data_options(args),
        callbacks=callbacks,
        resume=args.resume,
        seed=args.seed,
        verbose=args.verbose,
        max_consecutive_failed_trials=args.max_failed_trials,
        report=not args.no_report,
        chief_timeout=args.chief_timeout,
        trials_per_worker=args.trials_per_worker,
    )
    if result.recycled:
        print(
            f"worker {os.environ.get('KERASTUNER_TUNER_ID')}: ran its "
            f"{args.trials_per_worker} trials; a fresh process takes the next ones.",
            flush=True,
        )
        return distributed.RECYCLED_EXIT
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
            if isinstance(v, float) and not k.startswith("baseline_")
        )
    )
    compared = comparison_line(result.best_metrics)
    if compared:
        print(f"test:        {compared}")
    root = os.path.abspath(result.run_dir)
    print(f"results:     {os.path.join(root, 'results.csv')}")
    print(f"best model:  {os.path.join(root, 'best', 'model.keras')}")
    print(f"TensorBoard: tensorboard --logdir {os.path.join(root, 'logs')}")
    report = os.path.join(root, "report.html")
    if os.path.exists(report):
        print(f"report:      {report}")
    return 0


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
