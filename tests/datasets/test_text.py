"""Text pipeline: format detection, splits, labels, errors."""

import numpy as np
import pytest
import tensorflow as tf

from zoo.datasets.base import load_data
from zoo.datasets.text import load_text
from zoo.errors import DataError, ZooError

EMOTIONS = ["joy", "sadness", "anger"]


def _lines(n=30):
    words = {"joy": "happy glad", "sadness": "sad gloomy", "anger": "angry mad"}
    # Some texts hold the separator, as real `text;label` files do.
    inner = ["; really", ""]
    return [
        (
            f"i feel {words[EMOTIONS[i % 3]]}{inner[i % 4 > 0]}, number {i}",
            EMOTIONS[i % 3],
        )
        for i in range(n)
    ]


def _all(dataset):
    texts, labels = [], []
    for x, y in dataset:
        texts.append(x.numpy().decode())
        labels.append(int(y.numpy()))
    return texts, labels


def test_semicolon_file_without_header_splits_at_last_separator(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text("\n".join(f"{t};{label}" for t, label in _lines()) + "\n")
    bundle = load_text(str(path), seed=0, validation_split=0.2, test_split=0.2)
    detected = bundle.info["detected"]
    assert detected["separator"] == "semicolon"
    assert detected["header"] is False
    assert bundle.class_names == ["anger", "joy", "sadness"]
    assert bundle.task == "multiclass" and bundle.num_classes == 3
    assert bundle.input_shape == ()
    sizes = [bundle.info[f"{s}_size"] for s in ("train", "validation", "test")]
    assert sizes == [18, 6, 6]
    texts, labels = _all(bundle.train)
    # The text keeps its inner semicolon; the label is what follows the last one.
    assert sum("; really" in t for t in texts) >= 2
    for text, label in zip(texts, labels):
        assert bundle.class_names[label] in ("joy", "sadness", "anger")
        expected = {"happy": "joy", "sad": "sadness", "angry": "anger"}[text.split()[2]]
        assert bundle.class_names[label] == expected
    # The three splits are disjoint and cover the file.
    everything = texts + _all(bundle.validation)[0] + _all(bundle.test)[0]
    assert len(set(everything)) == 30


def test_x_is_a_string_scalar_and_y_an_int():
    bundle = load_data("rotten_tomatoes", kind="text", seed=0)
    x_spec, y_spec = bundle.train.element_spec
    assert x_spec.dtype == tf.string and x_spec.shape == ()
    assert y_spec.dtype.is_integer and y_spec.shape == ()
    assert bundle.class_names == ["fresh", "rotten"] and bundle.task == "binary"
    assert bundle.info["train_size"] > 3000
    assert bundle.info["detected"]["header"] is True


def test_tsv_with_header_and_named_columns(tmp_path):
    path = tmp_path / "data.tsv"
    rows = ["id\tsentence\tmood"] + [
        f"{i}\t{t}\t{label}" for i, (t, label) in enumerate(_lines())
    ]
    path.write_text("\n".join(rows))
    bundle = load_text(str(path), test_split=0.2)
    detected = bundle.info["detected"]
    assert detected["separator"] == "tab" and detected["header"] is True
    assert detected["text_column"] == "sentence"
    # "mood" is not a known label name: the label is the column with fewest values.
    assert detected["label_column"] == "mood"


def test_csv_header_detected_without_known_names(tmp_path):
    path = tmp_path / "data.csv"
    rows = ["words,kind"] + [f'"{t}",{label}' for t, label in _lines()]
    path.write_text("\n".join(rows))
    bundle = load_text(str(path))
    assert bundle.info["detected"]["header"] is True
    assert bundle.class_names == ["anger", "joy", "sadness"]


def test_target_and_text_column_override(tmp_path):
    path = tmp_path / "data.csv"
    rows = ["a,b,c"] + [
        f'"{t}",{label},{i % 2}' for i, (t, label) in enumerate(_lines())
    ]
    path.write_text("\n".join(rows))
    bundle = load_text(str(path), target="c", text_column="a")
    assert bundle.class_names == ["0", "1"] and bundle.task == "binary"
    with pytest.raises(DataError, match="Column 'd' is not in"):
        load_text(str(path), target="d")


def test_numeric_labels_sort_by_value(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text(
        "\n".join(f"text number {i},{[2, 10, 1][i % 3]}" for i in range(30))
    )
    bundle = load_text(str(path))
    assert bundle.class_names == ["1", "2", "10"]


def test_folder_of_class_folders(tmp_path):
    for name in ("neg", "pos"):
        (tmp_path / name).mkdir()
        for i in range(6):
            (tmp_path / name / f"{i}.txt").write_text(f"{name} review {i}")
    bundle = load_text(str(tmp_path), validation_split=0.0, test_split=0.25)
    assert bundle.class_names == ["neg", "pos"]
    texts, labels = _all(bundle.train)
    assert len(texts) == 9
    assert all(
        t.startswith(bundle.class_names[label]) for t, label in zip(texts, labels)
    )


def test_test_data_file_is_the_test_split(tmp_path):
    train = tmp_path / "train.txt"
    test = tmp_path / "test.txt"
    train.write_text("\n".join(f"{t};{label}" for t, label in _lines()))
    test.write_text("\n".join(f"held out {i};{EMOTIONS[i % 3]}" for i in range(5)))
    bundle = load_text(str(train), test_data=str(test), validation_split=0.2)
    texts, _ = _all(bundle.test)
    assert len(texts) == 5 and all(t.startswith("held out") for t in texts)
    assert bundle.info["train_size"] == 24
    test.write_text("held out;surprise\n")
    with pytest.raises(DataError, match="absent from the training data"):
        load_text(str(train), test_data=str(test))


def test_bad_inputs_raise_one_line_errors(tmp_path):
    one_class = tmp_path / "one.csv"
    one_class.write_text("\n".join(f"text {i},same" for i in range(10)))
    with pytest.raises(DataError, match="one class"):
        load_text(str(one_class))
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(DataError, match="empty"):
        load_text(str(empty))
    latin = tmp_path / "latin.csv"
    latin.write_bytes("caf\xe9,a\nthe,b\n".encode("latin-1"))
    with pytest.raises(DataError, match="UTF-8"):
        load_text(str(latin))
    with pytest.raises(ZooError, match="do not apply"):
        load_data("rotten_tomatoes", kind="text", image_size=3)
    for error in (DataError,):
        assert issubclass(error, ZooError)


def test_split_is_stratified_and_seeded():
    a = load_data("rotten_tomatoes", kind="text", seed=3)
    b = load_data("rotten_tomatoes", kind="text", seed=3)
    c = load_data("rotten_tomatoes", kind="text", seed=4)
    first = [_all(bundle.test.take(20))[0] for bundle in (a, b, c)]
    assert first[0] == first[1] and first[0] != first[2]
    _, labels = _all(a.test)
    share = np.mean(labels)
    assert abs(share - 2410 / 4863) < 0.02


def test_odd_line_breaks_become_spaces(tmp_path):
    # A saved TextVectorization splits its vocabulary file on these breaks.
    path = tmp_path / "odd.csv"
    rows = [f'"ambition\x85 number {i}\u2028more",{"ab"[i % 2]}' for i in range(20)]
    path.write_text("text,label\n" + "\n".join(rows), encoding="utf-8")
    bundle = load_text(str(path), validation_split=0.0, test_split=0.0)
    texts, _ = _all(bundle.train)
    assert all("\x85" not in t and "\u2028" not in t for t in texts)
    assert texts[0].startswith("ambition  number")
