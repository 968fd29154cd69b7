"""The sense-separation measure on a hand-made set with a random encoder."""

import pandas as pd
import pytest

from zoo.errors import DataError
from zoo.minilm import SentenceEncoder
from zoo.word_senses import sense_separation


def test_static_is_one_half_and_layers_are_scored():
    rows = [
        ("bank", "river", "the river bank was muddy"),
        ("bank", "river", "we walked along the bank of the river"),
        ("bank", "money", "she put cash in the bank"),
        ("bank", "money", "the bank lent money"),
    ]
    occurrences = pd.DataFrame(rows, columns=["word", "synset", "sentence"])
    table = sense_separation(SentenceEncoder("random"), occurrences).set_index(
        "representation"
    )
    assert table.loc["static", "pair_auc"] == 0.5
    assert {"context_bag", "layer_0", "layer_2"} <= set(table.index)
    assert table.loc["layer_2", "pairs"] == 6 and table.loc["layer_2", "words"] == 1
    with pytest.raises(DataError, match="same-sense"):
        sense_separation(SentenceEncoder("random"), occurrences.iloc[[0, 2]])
