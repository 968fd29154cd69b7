"""The one error type of keras-zoo.

Every mistake a user can make (an unknown name, a missing column, a corrupt
file, an impossible hyperparameter) ends in a `ZooError` raised where the bad
input is first seen. Its message names the problem and the fix in one line;
the CLI prints that line and exits with code 2.
"""

import difflib


class ZooError(Exception):
    """A user-facing error: one line naming the problem and the fix."""


class UnknownNameError(ZooError, KeyError):
    """An unknown model, dataset, tuner or option name."""

    def __str__(self):  # KeyError would quote the message.
        return self.args[0] if self.args else ""


class DataError(ZooError, ValueError):
    """A data file or dataset that cannot be used as given."""


class ConfigError(ZooError, ValueError):
    """A configuration value, override or hyperparameter that is not valid."""


def close_matches(name, choices, n=3):
    """Returns a ' Did you mean ...?' suffix, or '' when nothing is close."""
    matches = difflib.get_close_matches(str(name), [str(c) for c in choices], n=n)
    if not matches:
        return ""
    return " Did you mean " + " or ".join(repr(m) for m in matches) + "?"


def unknown_name(kind, name, choices):
    """Builds an `UnknownNameError` listing close matches and all choices."""
    choices = sorted(choices)
    listing = ", ".join(choices) if len(choices) <= 20 else f"{len(choices)} names"
    return UnknownNameError(
        f"Unknown {kind} {name!r}.{close_matches(name, choices)} "
        f"Known {kind}s: {listing}."
    )
