"""`zoo train`: one model into a run folder."""

import json
import os

from zoo.tuning.cli.options import (
    callback_options,
    data_arguments,
    data_options,
    pairs,
    training_arguments,
)


def add_parsers(verbs):
    train = verbs.add_parser("train", help="Train one model; writes a run folder.")
    train.add_argument("model", help="Model or family name (see `zoo list`).")
    data_arguments(train)
    training_arguments(train)
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
    train.set_defaults(run=run_train)


def run_train(args):
    from zoo.baselines import comparison_line
    from zoo.tuning.train import train

    result = train(
        args.model,
        args.data,
        run_dir=args.run_dir,
        epochs=args.epochs,
        batch_size=args.batch_size,
        overrides=pairs(args.set, "--set"),
        data_options=data_options(args),
        callbacks=callback_options(
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
    compared = comparison_line(result.metrics)
    if compared:
        print(f"test:        {compared}")
    print(f"run folder:  {os.path.abspath(result.run_dir)}")
    print(
        f"model:       {os.path.abspath(os.path.join(result.run_dir, 'model.keras'))}"
    )
    print(
        f"TensorBoard: tensorboard --logdir {os.path.abspath(os.path.join(result.run_dir, 'logs'))}"
    )
    return 0
