import numpy as np
import pandas as pd
import pytest

from zoo.datasets.base import load_data
from zoo.datasets.table_files import read_table
from zoo.errors import DataError, UnknownNameError


def churn_frame(n=200, seed=0):
    """A small churn-like table: categorical columns, gaps, Yes/No target."""
    rng = np.random.default_rng(seed)
    tenure = rng.integers(1, 72, n).astype(float)
    contract = rng.choice(["Month-to-month", "One year", "Two year"], n)
    charges = rng.normal(70, 20, n).round(2)
    churn = np.where(
        (contract == "Month-to-month") & (tenure < 24) & (rng.random(n) < 0.8),
        "Yes",
        "No",
    )
    frame = pd.DataFrame(
        {
            "customerID": [f"C{i:05d}" for i in range(n)],
            "tenure": tenure,
            "Contract": contract,
            "MonthlyCharges": charges,
            "TotalCharges": [f"{v:.2f}" for v in charges * tenure],
            "Churn": churn,
        }
    )
    frame.loc[::17, "tenure"] = np.nan
    frame.loc[::13, "TotalCharges"] = " "
    return frame


def test_awkward_csv_is_understood(tmp_path):
    path = tmp_path / "churn.csv"
    path.write_bytes(
        b"\xef\xbb\xbf" + churn_frame().to_csv(index=False, sep=";").encode()
    )
    bundle = load_data(str(path), kind="tabular", target="Churn", seed=1)
    info = bundle.info
    assert bundle.class_names == ["No", "Yes"]
    assert bundle.num_classes == 2 and bundle.task == "binary"
    assert set(info["numeric_columns"]) == {"tenure", "MonthlyCharges", "TotalCharges"}
    assert info["categorical_columns"] == ["Contract"]
    assert "customerID" in info["dropped_columns"]
    sizes = info["train_size"], info["validation_size"], info["test_size"]
    assert sum(sizes) == 200 and min(sizes) >= 25
    x, y = next(iter(bundle.train.batch(500)))
    # Raw rows: the model's encoder fills and scales them (zoo.tabular).
    assert sorted(x) == ["Contract", "MonthlyCharges", "TotalCharges", "tenure"]
    assert x["Contract"].dtype == "string" and x["tenure"].shape[1:] == (1,)
    assert len(x) == bundle.input_shape[0]


def test_split_is_stratified_and_seeded():
    first = load_data("credit_card", kind="tabular", seed=3)
    again = load_data("credit_card", kind="tabular", seed=3)
    other = load_data("credit_card", kind="tabular", seed=4)
    labels = {
        split: np.concatenate([y for _, y in getattr(first, split).batch(2000)])
        for split in ("train", "test")
    }
    assert abs(labels["train"].mean() - labels["test"].mean()) < 0.03
    assert np.array_equal(
        labels["test"], np.concatenate([y for _, y in again.test.batch(2000)])
    )

    def rows(bundle):
        columns = next(iter(bundle.test.batch(2000)))[0]
        return np.concatenate([columns[c].numpy().astype(str) for c in sorted(columns)])

    assert not np.array_equal(rows(first), rows(other))


def test_class_weights_for_imbalanced_targets():
    bundle = load_data("credit_card", kind="tabular")  # 22% "no"
    assert bundle.class_weight[0] > 1.5 > bundle.class_weight[1]
    assert (
        load_data("credit_card", kind="tabular", class_weight="none").class_weight
        is None
    )


def test_features_subset_and_regression():
    bundle = load_data("titanic", kind="tabular", features="sex,passengerClass")
    from zoo.tabular import adapt_table

    assert bundle.info["numeric_columns"] == [] and bundle.input_shape == (2,)
    assert adapt_table(None, bundle).input_shape == (7,)  # 2 + 3 classes, 1 OOV each
    regression = load_data("diabetes", kind="tabular")
    assert regression.num_classes is None and regression.task == "regression"


def test_parquet(tmp_path):
    path = tmp_path / "churn.parquet"
    churn_frame().to_parquet(path)
    assert load_data(str(path), kind="tabular", target="Churn").num_classes == 2


def test_preprocessor_takes_raw_rows_with_gaps():
    import tensorflow as tf

    bundle = load_data("titanic", kind="tabular")
    rows = {
        "age": tf.constant([[np.nan], [30.0]]),
        "passengerClass": tf.constant([["1st"], ["unseen class"]]),
        "sex": tf.constant([["female"], ["male"]]),
    }
    from zoo.tabular import adapt_table

    preprocessing = adapt_table(None, bundle)
    encoded = np.asarray(preprocessing.layer(rows))
    assert encoded.shape == (2, *preprocessing.input_shape)
    assert np.all(np.isfinite(encoded))


@pytest.mark.parametrize(
    "content, options, message",
    [
        (b"", {"target": "y"}, "is empty"),
        (b"a,b,y\n", {"target": "y"}, "no data rows"),
        (b"a,b,y\n1,2,3\n", {"target": "Y "}, None),
        (b"a,b,y\n" + b"1,2,x\n" * 20, {"target": "y"}, "single class"),
        (b"a,b,y\n" + b"1,2,0\n3,4,1\n" * 10, {"target": "z"}, "no column 'z'"),
        (b"a,b,y\n" + b"1,2,0\n3,4,1\n" * 10, {}, "--target"),
        (b"a b y\n1 2 0\n", {"target": "y"}, "single column"),
    ],
)
def test_bad_csvs_raise_data_error(tmp_path, content, options, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    if (
        message is None
    ):  # a near-miss target name is matched case- and space-insensitively
        with pytest.raises(DataError, match="rows with a target"):
            load_data(str(path), kind="tabular", **options)
        return
    with pytest.raises(DataError, match=message):
        load_data(str(path), kind="tabular", **options)


def test_unknown_dataset_and_missing_file():
    with pytest.raises(UnknownNameError, match="Did you mean 'titanic'"):
        load_data("titanik", kind="tabular")
    with pytest.raises(DataError.__mro__[1], match="does not exist"):
        load_data("no/such/file.csv", kind="tabular", target="y")


def test_unknown_option_is_named():
    with pytest.raises(Exception, match="target_column"):
        load_data("titanic", kind="tabular", target_column="survived")


def test_read_table_sniffs_tabs(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("a\tb\n1\t2\n")
    assert list(read_table(path).columns) == ["a", "b"]
