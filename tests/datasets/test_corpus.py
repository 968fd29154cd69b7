"""The corpus data kind: reading, splitting, vocabulary, windows, errors."""

import gzip

import numpy as np
import pytest

from zoo.datasets.base import load_data
from zoo.datasets.corpus import corpus_bundle, split_documents
from zoo.errors import DataError

# Words of one length, so cutting the text at 80% and 90% of its characters
# cuts it at words 160 and 180.
WORDS = [f"w{i:03d}" for i in range(200)]


def _load(path, **options):
    return load_data(str(path), kind="corpus", **options)


def _pairs(dataset):
    return [(x.numpy().tolist(), int(y.numpy())) for x, y in dataset]


def _words(bundle, ids):
    return [bundle.extras["vocabulary"][i] for i in ids]


def test_hamlet_is_split_at_its_tail_with_a_train_only_vocabulary():
    bundle = load_data("hamlet", kind="corpus", before=3)
    info = bundle.info
    assert info["documents"] == 1 and info["level"] == "word"
    assert 30_000 < sum(info["tokens"].values()) < 34_000
    assert (
        bundle.num_classes
        == info["vocabulary_size"]
        == len(bundle.extras["vocabulary"])
    )
    assert bundle.extras["vocabulary"][:3] == ["", "[UNK]", "the"]
    # The test part is the play's last tenth: its last window ends the play.
    *_, (context, target) = _pairs(bundle.test)
    assert _words(bundle, [*context[1:], target]) == ["is", "shot", "off"]
    assert int(bundle.train.cardinality()) == info["train_size"]
    # Words seen only in the held-out parts are unknown to the vocabulary.
    assert 0 < info["test_unknown_rate"] < 0.3


def test_windows_hold_the_words_before_a_target_in_order(tmp_path):
    path = tmp_path / "count.txt"
    path.write_text(" ".join(WORDS))
    bundle = _load(path, before=3, validation_split=0.1, test_split=0.1)
    pairs = _pairs(bundle.train)
    assert len(pairs) == info_size(bundle, "train") == 160 - 3
    for context, target in pairs[:20]:
        words = _words(bundle, [*context, target])
        numbers = [int(word[1:]) for word in words]
        assert numbers == list(range(numbers[0], numbers[0] + 4))
    # The test tail is w180..w199: its words never entered the vocabulary.
    test_pairs = _pairs(bundle.test)
    assert len(test_pairs) == 20 - 3
    assert all(target == 1 for _, target in test_pairs)


def info_size(bundle, split):
    return bundle.info[f"{split}_size"]


def test_cloze_windows_take_k_words_each_side(tmp_path):
    path = tmp_path / "count.txt"
    path.write_text(" ".join(WORDS))
    bundle = _load(path, before=2, after=2)
    assert bundle.input_shape == (4,)
    for context, target in _pairs(bundle.train)[:10]:
        left_two, right_two = _words(bundle, context[:2]), _words(bundle, context[2:])
        middle = int(_words(bundle, [target])[0][1:])
        assert [int(w[1:]) for w in left_two] == [middle - 2, middle - 1]
        assert [int(w[1:]) for w in right_two] == [middle + 1, middle + 2]


def test_a_folder_is_one_document_per_file_and_windows_stay_inside_one(tmp_path):
    (tmp_path / "books").mkdir()
    (tmp_path / "books" / "a.txt").write_text(" ".join(f"a{i}" for i in range(60)))
    (tmp_path / "books" / "b.txt").write_text(" ".join(f"b{i}" for i in range(60)))
    (tmp_path / "books" / "notes.bin").write_bytes(b"\x00\x01")
    bundle = _load(tmp_path / "books", before=3)
    assert bundle.info["documents"] == 2
    assert bundle.info["detected"] == {"layout": "folder of text files", "files": 2}
    for context, target in _pairs(bundle.train):
        letters = {word[0] for word in _words(bundle, [*context, target])}
        assert len(letters) == 1
    # Each file's tail is held out, so both files are in the test part.
    assert len(bundle.extras["documents"]["test"]) == 2


def test_csv_text_column_is_detected_or_named(tmp_path):
    path = tmp_path / "reviews.csv"
    rows = ["id,review,stars"] + [
        f'{i},"{" ".join(WORDS[i : i + 8])}",{i % 5}' for i in range(40)
    ]
    path.write_text("\n".join(rows))
    bundle = _load(path, before=2)
    assert bundle.info["detected"]["text_column"] == "review"
    assert bundle.info["documents"] == 40
    assert bundle.info["split"] == "whole documents, shuffled by seed"
    with pytest.raises(DataError, match="no column 'reveiw'.*'review'"):
        _load(path, text_column="reveiw")


def test_min_count_and_max_tokens_shape_the_vocabulary(tmp_path):
    text = " ".join(["the"] * 30 + ["cat"] * 20 + ["sat"] * 10 + ["mat"] * 2) * 3
    path = tmp_path / "cats.txt"
    path.write_text(text)
    bundle = _load(path, min_count=5)
    assert bundle.extras["vocabulary"] == ["", "[UNK]", "the", "cat", "sat"]
    counts = bundle.extras["counts"]
    assert counts[2] > counts[3] > counts[4] >= 5
    bundle = _load(path, max_tokens=4)
    assert bundle.extras["vocabulary"] == ["", "[UNK]", "the", "cat"]
    train_ids = np.concatenate(bundle.extras["documents"]["train"])
    assert (train_ids == 1).sum() > 0  # "sat" and "mat" became [UNK]


def test_character_level_sequences_predict_the_next_character(tmp_path):
    path = tmp_path / "poem.txt"
    path.write_text("Roses are red,\nviolets are blue.\n" * 20)
    bundle = _load(path, level="character", sequence_length=10, stride=5)
    vocabulary = bundle.extras["vocabulary"]
    assert "\n" not in vocabulary and "R" in vocabulary and "," in vocabulary
    x, y = next(iter(bundle.train))
    assert x.shape == y.shape == (10,)
    np.testing.assert_array_equal(x.numpy()[1:], y.numpy()[:-1])
    assert bundle.info["window"] == {"sequence_length": 10, "stride": 5}


def test_many_documents_are_dealt_whole_and_reproducibly():
    documents = [f"doc{i} " + " ".join(WORDS[i : i + 10]) for i in range(50)]
    first = split_documents(documents, validation_split=0.1, test_split=0.2, seed=3)
    again = split_documents(documents, validation_split=0.1, test_split=0.2, seed=3)
    assert first == again
    train, validation, test, _ = first
    assert (len(train), len(validation), len(test)) == (35, 5, 10)
    assert sorted(train + validation + test) == sorted(documents)


@pytest.mark.parametrize(
    ("content", "options", "message"),
    [
        (b"", {}, "corpus is empty"),
        (b"  \n\n ", {}, "corpus is empty"),
        (b"... !!! ,,,", {}, "holds no words"),
        (b"to be or not to be", {"before": 3}, "smaller than one window"),
        (b"GIF89a\x00\x01\x02\x00", {}, "binary data"),
        (b"\xff\xfe\xfa plain \xc3", {}, "not UTF-8"),
        (" ".join(WORDS).encode(), {"max_tokens": 5000}, "max_tokens=5000 is larger"),
        (" ".join(WORDS).encode(), {"min_count": 3}, "min_count=3 is above"),
        (" ".join(WORDS).encode(), {"level": "sentence"}, "level must be"),
        (" ".join(WORDS).encode(), {"before": 0}, "at least one context"),
    ],
)
def test_bad_corpora_raise_one_line(tmp_path, content, options, message):
    path = tmp_path / "corpus.txt"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message) as caught:
        _load(path, **options)
    assert "\n" not in str(caught.value)


def test_compressed_text_and_unknown_options(tmp_path):
    path = tmp_path / "count.txt.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(" ".join(WORDS))
    assert _load(path, before=1).info["tokens"]["train"] == 160
    with pytest.raises(Exception, match="do not apply"):
        _load(path, target="label")


def test_rotten_tomatoes_snippets_are_documents():
    bundle = load_data("rotten_tomatoes", kind="corpus", before=2, after=2)
    assert bundle.info["documents"] == 4863
    assert bundle.info["detected"]["text_column"] == "text"
    assert bundle.input_shape == (4,) and bundle.num_classes > 5000


def test_validation_can_be_empty():
    bundle = corpus_bundle([" ".join(WORDS)], before=2, validation_split=0.0)
    assert bundle.info["validation_size"] == 0 and bundle.info["test_size"] > 0
