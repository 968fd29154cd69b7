"""Is `zoo train mlp` at least as good as a plain logistic regression?

Both see the same split and the same encoded features (median-filled,
standardised numbers, one-hot categories). Usage:

    python examples/mlp_vs_logistic_regression.py datasets/data/credit_card.csv card
    python examples/mlp_vs_logistic_regression.py datasets/data/titanic.csv survived
"""

import argparse
import json
import tempfile
import time

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score

from zoo.datasets.base import load_data
from zoo.tuning.train import train


def arrays(dataset):
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in dataset.batch(4096)], strict=True)
    return np.concatenate(xs), np.concatenate(ys)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("csv")
    parser.add_argument("target")
    parser.add_argument("--model", default="mlp")
    parser.add_argument(
        "--epochs", type=int, default=None, help="Default: the family's."
    )
    parser.add_argument("--seeds", type=int, default=3, help="Splits to average over.")
    args = parser.parse_args()
    rows = [compare(args, seed) for seed in range(args.seeds)]
    for name in ("logistic_regression", args.model):
        for metric in ("accuracy", "auc"):
            values = [row[name][metric] for row in rows]
            print(
                f"{name:20s} {metric:8s} mean {sum(values) / len(values):.4f}  per split {[round(v, 4) for v in values]}"
            )


def compare(args, seed):
    bundle = load_data(args.csv, kind="tabular", target=args.target, seed=seed)
    x_train, y_train = arrays(bundle.train)
    x_test, y_test = arrays(bundle.test)
    started = time.perf_counter()
    baseline = LogisticRegression(max_iter=2000).fit(x_train, y_train)
    probability = baseline.predict_proba(x_test)[:, 1]
    logreg = {
        "accuracy": accuracy_score(y_test, probability >= 0.5),
        "auc": roc_auc_score(y_test, probability),
        "seconds": time.perf_counter() - started,
    }
    with tempfile.TemporaryDirectory() as run_dir:
        result = train(
            args.model,
            args.csv,
            run_dir=f"{run_dir}/run",
            epochs=args.epochs,
            data_options={"target": args.target},
            seed=seed,
            verbose=0,
        )
    mlp = {
        "accuracy": result.metrics["test_accuracy"],
        "auc": result.metrics["test_auc"],
        "seconds": result.metrics["train_seconds"],
    }
    row = {
        "seed": seed,
        "data": args.csv,
        "test_rows": int(len(y_test)),
        "class_weight": bundle.class_weight,
        "logistic_regression": logreg,
        args.model: mlp,
    }
    print(json.dumps(row), flush=True)
    return row


if __name__ == "__main__":
    main()
