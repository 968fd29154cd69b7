"""dSprites-like sprites rendered in code: square, ellipse and heart on a 5-factor grid.

The factors and their sizes are those of dSprites (Matthey et al., 2017):
shape (3), scale (6), rotation (40), x (32), y (32). Rendering is vectorised
numpy, so a set of 20,000 sprites takes a second; the `dsprites` loader in
`zoo.datasets.vae_images` turns them into a bundle with the factors kept for
disentanglement metrics.

Example:
    >>> factors = sample_sprite_factors(4, seed=0)
    >>> render_sprites(*factor_values(factors), image_size=32).shape
    (4, 32, 32)
"""

import numpy as np

SHAPE_NAMES = ["square", "ellipse", "heart"]
# Number of values of each dSprites factor (Matthey et al., 2017).
FACTOR_SIZES = {"shape": 3, "scale": 6, "rotation": 40, "x": 32, "y": 32}


def render_sprites(shape, scale, rotation, x, y, image_size=64):
    """Binary sprites, one per row of factor values (vectorised numpy).

    Args:
        shape: int `[N]`, 0 square, 1 ellipse, 2 heart.
        scale: `[N]` in [0.5, 1].
        rotation: `[N]` angle in radians.
        x, y: `[N]` positions in [0, 1] (left to right, top to bottom).

    Returns:
        uint8 `[N, image_size, image_size]` with values 0 and 255.
    """
    centres = (np.arange(image_size, dtype="float32") + 0.5) / image_size
    grid_y, grid_x = np.meshgrid(centres, centres, indexing="ij")
    # Positions span the middle 60% of the image, as in dSprites.
    cx = (0.2 + 0.6 * np.asarray(x, "float32"))[:, None, None]
    cy = (0.2 + 0.6 * np.asarray(y, "float32"))[:, None, None]
    radius = (0.17 * np.asarray(scale, "float32"))[:, None, None]
    cos = np.cos(rotation).astype("float32")[:, None, None]
    sin = np.sin(rotation).astype("float32")[:, None, None]
    dx, dy = grid_x[None] - cx, grid_y[None] - cy
    # Sprite-frame coordinates, with v pointing up.
    u = (cos * dx + sin * dy) / radius
    v = (sin * dx - cos * dy) / radius
    square = np.maximum(np.abs(u), np.abs(v)) <= 0.8
    ellipse = u**2 + (v / 0.5) ** 2 <= 1.0
    hx, hy = u * 1.15, v * 1.15 + 0.15
    heart = (hx**2 + hy**2 - 1.0) ** 3 - hx**2 * hy**3 <= 0.0
    shape = np.asarray(shape)[:, None, None]
    inside = np.where(shape == 0, square, np.where(shape == 1, ellipse, heart))
    return inside.astype("uint8") * 255


def sample_sprite_factors(num_examples, seed):
    """Random factor indices `[N, 5]` (shape, scale, rotation, x, y) on dSprites' grid."""
    rng = np.random.default_rng(seed)
    return np.stack(
        [rng.integers(0, size, num_examples) for size in FACTOR_SIZES.values()], axis=-1
    ).astype("int32")


def factor_values(factors):
    """Factor indices -> (shape, scale, rotation in radians, x, y) values."""
    factors = np.asarray(factors)
    scale = np.linspace(0.5, 1.0, FACTOR_SIZES["scale"])[factors[:, 1]]
    rotation = np.linspace(0.0, 2 * np.pi, FACTOR_SIZES["rotation"], endpoint=False)[
        factors[:, 2]
    ]
    x = np.linspace(0.0, 1.0, FACTOR_SIZES["x"])[factors[:, 3]]
    y = np.linspace(0.0, 1.0, FACTOR_SIZES["y"])[factors[:, 4]]
    return factors[:, 0], scale, rotation, x, y
