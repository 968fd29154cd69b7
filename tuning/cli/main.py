"""The `zoo` command line. It parses arguments and calls the Python API.

Each verb group is a module of this package with `add_parsers(verbs)`,
found here without a hand-kept list; each verb sets `run(args)`. Every user
mistake ends in one line on stderr and exit code 2.
"""

import argparse
import importlib
import inspect
import os
import pkgutil
import sys
import warnings

_NOT_VERBS = ("main", "options")


class _DefaultsShown(argparse.HelpFormatter):
    """Adds `(default: X)` to a flag's help when it has a real default."""

    def _get_help_string(self, action):
        text = action.help or ""
        if (
            "default" not in text
            and action.default not in (None, False, [], argparse.SUPPRESS)
            and action.option_strings
        ):
            text += " (default: %(default)s)"
        return text


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _DefaultsShown)
        super().__init__(*args, **kwargs)

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
                import tensorflow

                # Each trial or run builds new functions: TensorFlow's
                # "triggered tf.function retracing" warning is expected
                # here and would break up the one-line-per-trial output.
                tensorflow.get_logger().setLevel("ERROR")

                from zoo.datasets.base import load_datasets
                from zoo.registry import load_families

                load_datasets()
                load_families()
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)
    import absl.logging

    absl.logging.set_verbosity(absl.logging.ERROR)


def build_parser():
    parser = _Parser(
        prog="zoo", description="keras-zoo: train, tune and compare Keras models."
    )
    verbs = parser.add_subparsers(dest="verb", required=True, parser_class=_Parser)
    for module in pkgutil.iter_modules([os.path.dirname(__file__)]):
        if module.name not in _NOT_VERBS:
            importlib.import_module(f"zoo.tuning.cli.{module.name}").add_parsers(verbs)
    return parser


def main(argv=None):
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, or a usage error already printed.
        return exit_.code
    # `zoo list` & co. never load TensorFlow, nor does the launcher of a local
    # distributed search (its chief and workers do; it only waits on them).
    if (
        not getattr(args, "fast", False)
        and getattr(args, "distributed", None) != "local"
    ):
        _quiet()
    from zoo.errors import ZooError

    try:
        if "argv" in inspect.signature(args.run).parameters:
            return args.run(args, argv=argv)
        return args.run(args)
    except ZooError as error:
        print(f"zoo: error: {error}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as error:
        from zoo.registry import EXTRAS

        extra = EXTRAS.get((error.name or "").split(".")[0])
        if extra is None:
            raise
        print(
            f"zoo: error: this command needs the [{extra}] extra: "
            f"pip install 'keras-zoo[{extra}]'",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print("zoo: interrupted; rerun with --resume to continue.", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `zoo list | head`: the reader left. Python's documented recipe:
        # point stdout at devnull so the interpreter's final flush is quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
