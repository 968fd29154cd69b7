"""JointVAE analysis: the latent API, disentanglement metrics and image grids.

Works on any trained `zoo.joint_vae_model.JointVAE` (it only calls the
model's `encode_parameters`, `sample_latent` and `decode`):

- the latent API: `encode` images to latent parameters, `make_latent` and
  `decode` latent vectors, `traverse` the latent space, `sample_prior`;
- metrics: `unsupervised_accuracy` (clusters mapped one-to-one onto classes
  with the Hungarian algorithm, the paper's discrete-code accuracy),
  `cluster_purity` (each cluster read as its majority class) and the
  `mutual_information_gap` (Chen et al., 2018);
- `image_grid` and the family's `evaluate` hook, `evaluate_joint_vae`, which
  returns metrics and uint8 pictures (the runner writes them).

Example:
    >>> codes = encode(model, images)            # {"mean", "alphas", "categories", ...}
    >>> unsupervised_accuracy(codes["categories"][:, 0], labels)
    0.87
    >>> grid = image_grid(traverse(model, num_steps=8))   # uint8 [H, W]
"""

import numpy as np
from keras import ops

from zoo.errors import DataError
from zoo.registry import Evaluation

# ---------------------------------------------------------------- Python API


def _batches(array, batch_size):
    for start in range(0, len(array), batch_size):
        yield array[start : start + batch_size]


def _check_images(model, images):
    images = np.asarray(images, dtype="float32")
    if images.ndim == 3 and model.image_shape[-1] == 1:
        images = images[..., None]
    if images.shape[1:] != model.image_shape:
        raise DataError(
            f"Images of shape {images.shape[1:]} do not fit this model, which takes "
            f"{model.image_shape}. Resize them first (values in [0, 1])."
        )
    return images


def encode(model, images, *, batch_size=256):
    """Encodes images (float in [0, 1], `[N, H, W, C]`) to latent parameters.

    Returns:
        `{"mean": [N, continuous_dim], "logvar": ..., "alphas": [[N, k], ...],
        "categories": [N, num_discrete] (arg-max of each alpha),
        "latent": [N, latent_size] (the decoder input at inference)}` as numpy.
    """
    images = _check_images(model, images)
    parts = {"mean": [], "logvar": [], "latent": []}
    alphas = [[] for _ in model.discrete_dims]
    for batch in _batches(images, batch_size):
        parameters = model.encode_parameters(batch, training=False)
        latent = model.sample_latent(parameters, training=False)
        parts["latent"].append(ops.convert_to_numpy(latent))
        if model.continuous_dim:
            parts["mean"].append(ops.convert_to_numpy(parameters["mean"]))
            parts["logvar"].append(ops.convert_to_numpy(parameters["logvar"]))
        for index in range(len(model.discrete_dims)):
            alphas[index].append(ops.convert_to_numpy(parameters[f"alpha_{index}"]))
    empty = np.zeros((len(images), 0), "float32")
    result = {
        key: np.concatenate(values) if values else empty
        for key, values in parts.items()
    }
    result["alphas"] = [np.concatenate(values) for values in alphas]
    result["categories"] = (
        np.stack([a.argmax(-1) for a in result["alphas"]], axis=-1)
        if alphas
        else np.zeros((len(images), 0), "int64")
    )
    return result


def make_latent(model, continuous=None, categories=None):
    """Decoder inputs from continuous values `[N, continuous_dim]` and category
    indices `[N, num_discrete]` (zeros and category 0 where not given)."""
    if continuous is None and categories is None:
        raise ValueError("Give continuous values, categories or both.")
    size = len(continuous) if continuous is not None else len(categories)
    if continuous is None:
        continuous = np.zeros((size, model.continuous_dim), "float32")
    if categories is None:
        categories = np.zeros((size, len(model.discrete_dims)), "int64")
    categories = np.asarray(categories).reshape(size, len(model.discrete_dims))
    parts = [np.asarray(continuous, "float32").reshape(size, model.continuous_dim)]
    for index, k in enumerate(model.discrete_dims):
        parts.append(np.eye(k, dtype="float32")[categories[:, index]])
    return np.concatenate(parts, axis=-1)


def decode(model, latent, *, batch_size=256):
    """Decodes latent vectors `[N, latent_size]` to images in [0, 1] (numpy)."""
    latent = np.asarray(latent, "float32")
    if latent.ndim != 2 or latent.shape[1] != model.latent_size:
        raise DataError(
            f"Latent vectors must have shape [N, {model.latent_size}], got {latent.shape}."
        )
    outputs = [
        ops.convert_to_numpy(model.decode(batch, training=False))
        for batch in _batches(latent, batch_size)
    ]
    return (
        np.concatenate(outputs)
        if outputs
        else np.zeros((0, *model.image_shape), "float32")
    )


def traverse(
    model, *, num_steps=8, span=2.0, base=None, traverse_dim=None, discrete_index=0
):
    """Latent traversals: one row per continuous dimension, then one per category.

    Continuous rows move one dimension from -span to +span, every other
    dimension staying at `base` (the prior mean by default), categories too.
    Category rows set discrete latent `discrete_index` to each category in
    turn and move continuous dimension `traverse_dim` (if given) across the
    same range, so each row shows one category's variations.

    Args:
        model: A `JointVAE`.
        num_steps: Columns of the grid.
        span: Range of the continuous values, in prior standard deviations.
        base: Optional `encode()` result of one image to traverse around
            (its latent means and categories); the prior mean otherwise.
        traverse_dim: Continuous dimension that the category rows move.
        discrete_index: Which categorical latent the category rows go through.

    Returns:
        Images `[rows, num_steps, H, W, C]` in [0, 1].
    """
    values = np.linspace(-span, span, num_steps, dtype="float32")
    base_continuous = np.zeros(model.continuous_dim, "float32")
    base_categories = np.zeros(len(model.discrete_dims), "int64")
    if base is not None:
        base_continuous = np.asarray(base["mean"], "float32").reshape(-1)[
            : model.continuous_dim
        ]
        base_categories = np.asarray(base["categories"]).reshape(-1)
    rows = []
    for dim in range(model.continuous_dim):
        continuous = np.tile(base_continuous, (num_steps, 1))
        continuous[:, dim] = values
        rows.append(
            make_latent(model, continuous, np.tile(base_categories, (num_steps, 1)))
        )
    if model.discrete_dims:
        categories_count = model.discrete_dims[discrete_index]
        for category in range(categories_count):
            continuous = np.tile(base_continuous, (num_steps, 1))
            if model.continuous_dim and traverse_dim is not None:
                continuous[:, traverse_dim] = values
            categories = np.tile(base_categories, (num_steps, 1))
            categories[:, discrete_index] = category
            rows.append(make_latent(model, continuous, categories))
    latent = np.concatenate(rows)
    images = decode(model, latent)
    return images.reshape(len(rows), num_steps, *model.image_shape)


def sample_prior(model, num_samples, *, seed=0):
    """Images decoded from z ~ N(0, I) and uniform categories."""
    rng = np.random.default_rng(seed)
    continuous = rng.standard_normal((num_samples, model.continuous_dim)).astype(
        "float32"
    )
    categories = (
        np.stack(
            [rng.integers(0, k, num_samples) for k in model.discrete_dims], axis=-1
        )
        if model.discrete_dims
        else None
    )
    return decode(model, make_latent(model, continuous, categories))


# ---------------------------------------------------------------- evaluation


def unsupervised_accuracy(categories, labels):
    """Accuracy of a cluster assignment under the best one-to-one mapping of
    clusters to classes (Hungarian algorithm). Examples labelled -1 are skipped.

    >>> unsupervised_accuracy(np.array([2, 2, 0, 1]), np.array([0, 0, 1, 2]))
    1.0
    """
    from scipy.optimize import linear_sum_assignment

    categories, labels = _labelled(categories, labels)
    if not len(labels):
        return float("nan")
    size = int(max(categories.max(), labels.max())) + 1
    counts = np.zeros((size, size), "int64")
    np.add.at(counts, (categories, labels), 1)
    rows, columns = linear_sum_assignment(counts, maximize=True)
    return float(counts[rows, columns].sum() / len(labels))


def cluster_purity(categories, labels):
    """Accuracy when each cluster is read as its most frequent class (many
    clusters may map to one class). With more categories than classes (the
    40-way code) the one-to-one `unsupervised_accuracy` scores at most 10 of
    them; purity scores every category by the digit it draws most.

    >>> cluster_purity(np.array([0, 1, 1, 2]), np.array([5, 5, 5, 7]))
    1.0
    """
    categories, labels = _labelled(categories, labels)
    if not len(labels):
        return float("nan")
    counts = np.zeros((int(categories.max()) + 1, int(labels.max()) + 1), "int64")
    np.add.at(counts, (categories, labels), 1)
    return float(counts.max(axis=1).sum() / len(labels))


def _labelled(categories, labels):
    """Flat category and label arrays, without the examples labelled -1."""
    categories = np.asarray(categories).reshape(-1)
    labels = np.asarray(labels).reshape(-1)
    keep = labels >= 0
    return categories[keep], labels[keep]


def _discretise(values, num_bins):
    values = np.asarray(values, "float64")
    low, high = values.min(), values.max()
    if high <= low:
        return np.zeros(len(values), "int64")
    edges = np.linspace(low, high, num_bins + 1)[1:-1]
    return np.digitize(values, edges)


def mutual_information_gap(codes, factors, *, num_bins=20, discrete_codes=0):
    """Mutual information gap (Chen et al., 2018) of codes against known factors.

    For each factor, the difference between the two largest mutual
    informations with single codes, divided by the factor's entropy, averaged
    over factors. Continuous codes are put into `num_bins` equal-width bins.

    Args:
        codes: `[N, num_codes]`; the last `discrete_codes` columns are already
            category indices.
        factors: `[N, num_factors]` integer factor values.

    Returns:
        `(mig, per_factor)`: the score in [0, 1] and one score per factor.
    """
    from sklearn.metrics import mutual_info_score

    codes = np.asarray(codes)
    factors = np.asarray(factors)
    num_codes = codes.shape[1]
    if num_codes < 2:
        raise ValueError("The mutual information gap needs at least two codes.")
    binned = [
        codes[:, i].astype("int64")
        if i >= num_codes - discrete_codes
        else _discretise(codes[:, i], num_bins)
        for i in range(num_codes)
    ]
    per_factor = []
    for j in range(factors.shape[1]):
        factor = factors[:, j]
        entropy = mutual_info_score(factor, factor)
        if entropy <= 0:
            continue
        informations = sorted(
            (mutual_info_score(factor, code) for code in binned), reverse=True
        )
        per_factor.append((informations[0] - informations[1]) / entropy)
    return float(np.mean(per_factor)) if per_factor else float("nan"), per_factor


def image_grid(images, *, padding=2, scale=1):
    """`[rows, cols, H, W, C]` floats in [0, 1] -> one uint8 image with gaps."""
    images = np.clip(np.asarray(images, "float32"), 0.0, 1.0)
    rows, cols, height, width, channels = images.shape
    if scale > 1:
        images = images.repeat(scale, axis=2).repeat(scale, axis=3)
        height, width = height * scale, width * scale
    canvas = np.full(
        (
            rows * (height + padding) + padding,
            cols * (width + padding) + padding,
            channels,
        ),
        0.5,
        "float32",
    )
    for r in range(rows):
        for c in range(cols):
            top, left = (
                padding + r * (height + padding),
                padding + c * (width + padding),
            )
            canvas[top : top + height, left : left + width] = images[r, c]
    canvas = (canvas * 255).round().astype("uint8")
    return canvas[..., 0] if channels == 1 else canvas


def _test_arrays(bundle, limit):
    images, labels = [], []
    count = 0
    for x, y in bundle.test.batch(512).as_numpy_iterator():
        images.append(x)
        labels.append(y)
        count += len(x)
        if count >= limit:
            break
    return np.concatenate(images)[:limit], np.concatenate(labels)[:limit].astype(
        "int64"
    )


def evaluate_joint_vae(model, config, bundle, *, limit=10000, batch_size=256):
    """Test losses, discrete-code accuracy, MIG on known factors, and pictures.

    The pictures: `reconstructions.png` (rows of inputs above their
    reconstructions), `traversals.png` (one row per continuous dimension,
    then one per category of the first discrete latent) and `samples.png`
    (prior samples).
    """
    del config
    results = model.evaluate(
        bundle.batches("test", batch_size), verbose=0, return_dict=True
    )
    metrics = {f"test_{name}": float(value) for name, value in results.items()}
    metrics["step_counter"] = int(ops.convert_to_numpy(model.step_counter))

    images, labels = _test_arrays(bundle, limit)
    codes = encode(model, images, batch_size=batch_size)
    if model.continuous_dim:
        kl_per_dim = 0.5 * (
            np.square(codes["mean"]) + np.exp(codes["logvar"]) - 1.0 - codes["logvar"]
        ).mean(axis=0)
        metrics["active_continuous_dims"] = int((kl_per_dim > 0.1).sum())
    if model.discrete_dims and (labels >= 0).any():
        for index in range(len(model.discrete_dims)):
            suffix = "" if index == 0 else f"_{index}"
            metrics[f"discrete_accuracy{suffix}"] = unsupervised_accuracy(
                codes["categories"][:, index], labels
            )
            metrics[f"discrete_purity{suffix}"] = cluster_purity(
                codes["categories"][:, index], labels
            )
        metrics["chance_accuracy"] = float(
            np.bincount(labels[labels >= 0]).max() / (labels >= 0).sum()
        )
    factors = bundle.extras.get("factors", {}).get("test")
    if factors is not None:
        factors = np.asarray(factors)[: len(images)]
        parts = [codes["mean"], codes["categories"]]
        mig, per_factor = mutual_information_gap(
            np.concatenate(parts, axis=-1),
            factors,
            discrete_codes=len(model.discrete_dims),
        )
        metrics["mig"] = mig
        for name, value in zip(bundle.extras.get("factor_names", []), per_factor):
            metrics[f"mig_{name}"] = float(value)

    shown = images[:16]
    reconstructions = ops.convert_to_numpy(model(shown, training=False))
    pairs = np.stack([shown, reconstructions], axis=1)  # [16, 2, H, W, C]
    rows = pairs.reshape(2, 8, 2, *model.image_shape).transpose(0, 2, 1, 3, 4, 5)
    pictures = {"reconstructions.png": rows.reshape(4, 8, *model.image_shape)}
    traverse_dim = None
    if model.continuous_dim:
        traverse_dim = int(np.argmax(kl_per_dim))
    base = {
        "mean": np.zeros(model.continuous_dim),
        "categories": codes["categories"][0],
    }
    pictures["traversals.png"] = traverse(
        model, num_steps=10, base=base, traverse_dim=traverse_dim
    )
    samples = sample_prior(model, 64)
    pictures["samples.png"] = samples.reshape(8, 8, *model.image_shape)
    scale = 2 if model.image_shape[0] <= 32 else 1
    images = {name: image_grid(grid, scale=scale) for name, grid in pictures.items()}
    return Evaluation(metrics=metrics, images=images)


# One gamma for both KL terms, as in the paper's settings; the objective is
