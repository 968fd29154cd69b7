"""`detect_delimiter`: the one detector the tabular, text and series readers share."""

import pytest

from zoo.datasets.delimiters import detect_delimiter


@pytest.fixture(autouse=True)
def seeded():
    """Overrides the Keras seeding fixture: nothing here touches Keras."""
    yield


def test_decimal_commas_do_not_hide_the_semicolon():
    rows = ["price;weight;kind"] + [
        f"{i},5;{i % 3},25;{'ab'[i % 2]}" for i in range(20)
    ]
    assert detect_delimiter("prices.csv", "\n".join(rows)) == ";"


def test_prose_with_a_comma_on_every_line_keeps_its_label_separator():
    labels = ("joy", "anger")
    rows = [f"well, I felt {i} things;{labels[i % 2]}" for i in range(20)]
    assert detect_delimiter("moods.txt", "\n".join(rows)) == ";"


def test_quoted_commas_and_plain_tables():
    rows = ["name,city"] + [f'"Smith; J{i}",Paris' for i in range(20)]
    assert detect_delimiter("people.csv", "\n".join(rows)) == ","
    assert detect_delimiter("a.csv", "a|b\n1|2\n3|4\n") == "|"
    assert detect_delimiter("a.tsv.gz", "a,b\n1,2\n") == "\t"


def test_no_delimiter_is_none():
    assert detect_delimiter("values.csv", "value\n1\n2\n3\n") is None
    assert detect_delimiter("empty.csv", "") is None
