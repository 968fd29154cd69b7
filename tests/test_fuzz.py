"""Fuzz: the CSV loader, the text loader and `--set` answer only success or `ZooError`.

Examples are few and small (a loader call builds a FeatureSpace), so the
whole file stays fast; any exception other than `ZooError` is a bug.
"""

import os
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zoo.config import apply_overrides, parse_set
from zoo.datasets.base import load_data
from zoo.errors import ZooError

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)


@pytest.fixture(autouse=True)
def seeded():
    """Overrides conftest's fixture: no `clear_session()` per example."""
    yield


def _load(data, name, kind, **options):
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, name)
        with open(path, "wb") as handle:
            handle.write(data)
        try:
            return load_data(path, kind=kind, **options)
        except ZooError as error:
            message = str(error)
            assert message.strip() and "\n" not in message.strip(), message
            return None


# Bytes that look a little like CSV, so the parser gets past the first line.
CSV_ALPHABET = st.sampled_from(
    [
        b",",
        b";",
        b"\t",
        b"\n",
        b'"',
        b"a",
        b"y",
        b"1",
        b"0",
        b".",
        b"-",
        b"e",
        b"9",
        b" ",
        b"\r",
        b"\xff",
        b"\xef\xbb\xbf",
        b"nan",
        b"inf",
        b"\x00",
    ]
)


@FUZZ
@given(st.lists(CSV_ALPHABET, max_size=200).map(b"".join))
def test_csv_loader_random_bytes(data):
    _load(data, "fuzz.csv", "tabular", target="y")


CELL = st.one_of(
    st.integers(-5, 5).map(str),
    st.floats(allow_nan=True, allow_infinity=True, width=32).map(repr),
    st.sampled_from(["", "NA", "cat", "dog", " ", "1e308", "-0", '"q,uoted"']),
)


@st.composite
def small_tables(draw):
    columns = draw(st.integers(1, 4))
    rows = draw(st.integers(0, 25))
    header = draw(
        st.lists(
            st.sampled_from(["a", "b", "y", "c d", "y", ""]),
            min_size=columns,
            max_size=columns,
        )
    )
    lines = [",".join(header)]
    for _ in range(rows):
        lines.append(",".join(draw(st.lists(CELL, min_size=columns, max_size=columns))))
    return ("\n".join(lines) + "\n").encode()


@FUZZ
@given(small_tables(), st.sampled_from(["auto", "regression", "binary"]))
def test_csv_loader_random_tables(data, task):
    bundle = _load(data, "fuzz.csv", "tabular", target="y", task=task)
    if bundle is not None:
        # Success must be a usable bundle, not a silent wrong one.
        assert bundle.info["rows"] >= 10
        x, y = next(iter(bundle.train.batch(64)))
        assert x.shape[-1] == bundle.input_shape[-1]


TEXT_LINE = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30).map(
        str.encode
    ),
    st.sampled_from([b"", b"\xff\xfe", b"good movie,1", b"bad film,0", b"text,label"]),
)


@FUZZ
@given(
    st.lists(TEXT_LINE, max_size=40).map(b"\n".join),
    st.sampled_from(["fuzz.csv", "fuzz.txt", "fuzz.tsv"]),
)
def test_text_loader_random_files(data, name):
    pytest.importorskip("zoo.datasets.text")
    _load(data, name, "text")


SET_ITEM = st.one_of(
    st.text(max_size=30),
    st.builds(
        lambda k, v: f"{k}={v}",
        st.sampled_from(
            [
                "hidden_units",
                "dropout_rate",
                "learning_rate",
                "batch_norm",
                "optimizer",
                "steps_per_execution",
                "unknown",
                " x ",
                "1a",
                "",
            ]
        ),
        st.one_of(
            st.text(max_size=20),
            st.sampled_from(
                [
                    "[1,2]",
                    "(8,)",
                    "1e-3",
                    "nan",
                    "inf",
                    "-1",
                    "true",
                    "null",
                    '{"a": 1}',
                    "0.5",
                    "1e400",
                    "-0",
                ]
            ),
        ),
    ),
)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.lists(SET_ITEM, max_size=4))
def test_set_parser_and_overrides(items):
    from zoo.models.mlp import MLPConfig

    try:
        overrides = parse_set(items)
        config = apply_overrides(MLPConfig(), overrides)
    except ZooError as error:
        assert str(error).strip() and "\n" not in str(error).strip()
        return
    config.validate()
