"""Argument groups and value parsers that several verbs share."""

import dataclasses
import json
import os


def data_arguments(parser):
    parser.add_argument(
        "--data", help="Embedded dataset name (`zoo datasets`) or a file/folder path."
    )
    parser.add_argument(
        "--target", help="Target column of a table, text file or series."
    )
    parser.add_argument(
        "--features",
        help="Comma-separated feature columns (tables: default all); for a series, "
        "covariates beside the target's past values ('all': every numeric column).",
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


def training_arguments(parser):
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="Override a model setting (keys: `zoo info MODEL`).",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        help="Epochs (default: the family's; `zoo train` runs a JointVAE variant "
        "to the end of its capacity ramps).",
    )
    parser.add_argument(
        "--batch-size", type=int, help="Batch size (default: the family's)."
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="Seed of the split, weights and tuner."
    )
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
    parser.add_argument(
        "--no-tensorboard", action="store_true", help="Do not write TensorBoard logs."
    )
    parser.add_argument(
        "--no-backup",
        action="store_true",
        help="Skip the per-epoch backup (big models); a killed run then cannot resume.",
    )
    parser.add_argument(
        "--verbose", type=int, default=2, help="Keras verbosity (0, 1 or 2)."
    )


def pairs(items, flag):
    from zoo.config import parse_set
    from zoo.errors import ConfigError

    try:
        return parse_set(items)
    except ConfigError as error:
        raise ConfigError(str(error).replace("--set", flag)) from None


def data_options(args):
    options = pairs(args.data_option, "--data-option")
    for name in ("target", "features", "text_column", "test_data"):
        value = getattr(args, name, None)
        if value is not None:
            options[name] = value
    return options


def callback_options(args, **defaults):
    from zoo.tuning.callbacks import CallbackOptions

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

    return dataclasses.replace(
        options, **{k: v for k, v in changes.items() if v is not None}
    )


def read_space(text):
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
