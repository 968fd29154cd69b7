"""WordNet parsing on a small fake data file, and corpus reading."""

import pandas as pd
import pytest

from zoo.datasets.documents import read_corpus
from zoo.datasets.wordnet import gloss_retrieval_set, read_synsets, sense_examples
from zoo.errors import DataError

LINES = [
    "  1 This software and database is provided under the WordNet licence",
    '09213565 17 n 01 bank 0 000 | sloping land; "they pulled the canoe up on the bank"; "he sat on the bank of the river"',
    '08420278 14 n 02 depository_financial_institution 0 bank 0 000 | a financial institution; "he cashed a check at the bank"',
    '00001740 03 n 01 entity 0 000 | that which exists; "an entity of its own"',
]


@pytest.fixture()
def wordnet(tmp_path):
    (tmp_path / "data.noun").write_text("\n".join(LINES) + "\n")
    for pos in ("verb", "adj", "adv"):
        (tmp_path / f"data.{pos}").write_text("")
    return str(tmp_path)


def test_synsets_and_sense_examples(wordnet):
    synsets = read_synsets(wordnet)
    assert len(synsets) == 3
    bank = synsets.set_index("synset").loc["08420278-n"]
    assert bank.lemmas == ["depository_financial_institution", "bank"]
    assert bank.definition == "a financial institution"
    assert bank.examples == ["he cashed a check at the bank"]
    senses = sense_examples(synsets)
    assert set(senses.word) == {"bank"} and senses.synset.nunique() == 2
    assert len(senses) == 3


def test_retrieval_set_answers_point_at_their_definition(wordnet):
    synsets = read_synsets(wordnet)
    corpus, queries = gloss_retrieval_set(synsets, documents=3, queries=2, seed=1)
    for query, answer in queries.itertuples(index=False):
        synset = corpus.loc[answer, "synset"]
        assert query in synsets.set_index("synset").loc[synset, "examples"]
    with pytest.raises(DataError, match="fewer"):
        gloss_retrieval_set(synsets, documents=10)


def test_missing_wordnet_names_the_package(tmp_path):
    with pytest.raises(DataError, match="wordnet-base"):
        read_synsets(str(tmp_path))


def test_corpus_files_folders_and_names(tmp_path):
    (tmp_path / "lines.txt").write_text("first doc\n\nsecond doc\n")
    assert read_corpus(str(tmp_path / "lines.txt"))["line"].tolist() == [1, 3]
    pd.DataFrame({"id": [1, 2], "description": ["a cat jumps", "a dog runs"]}).to_csv(
        tmp_path / "gifs.csv", index=False
    )
    table = read_corpus(str(tmp_path / "gifs.csv"))
    assert table.columns.tolist() == ["text", "id"] and table.text[1] == "a dog runs"
    with pytest.raises(DataError, match="descriptin"):
        read_corpus(str(tmp_path / "gifs.csv"), text_column="descriptin")
    folder = tmp_path / "docs" / "sub"
    folder.mkdir(parents=True)
    (folder / "a.txt").write_text("hello world")
    assert read_corpus(str(tmp_path / "docs")).path.tolist() == ["sub/a.txt"]
    assert len(read_corpus("rotten_tomatoes")) == 4863
    with pytest.raises(DataError, match="rotten_tomatoes"):
        read_corpus("rotten_tomatos")
