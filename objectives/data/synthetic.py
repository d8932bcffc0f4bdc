"""The bundled offline dataset, ``synthetic``: ten classes of procedurally drawn patterns.

Nothing is downloaded or shipped: every image is rendered from a seed, so the demo and the tests
run on a fresh machine. The task is built to *rank* architectures after one short epoch at 32 px,
so its classes span several kinds of difficulty:

- four **gratings** (stripes at 0, 45, 90, 135 degrees, +-12 degrees jitter, 1.5-3.5 cycles per
  image, random phase): separable by the first conv layer's oriented filters (easy);
- **checkerboard**: a texture class that needs two orientations at once;
- five **shapes** at a random position, size and rotation: disc, square, ring, plus-sign,
  triangle. Telling a disc from a square or a ring needs a larger receptive field and more
  capacity (hard).

Colour carries no label information: each image has a random grey level for the background and
a foreground at least 0.35 brighter or darker, both with a small random tint (sd 0.08). Fully
random colours were tried first: they dominate a freshly initialised deep net's features, and
B0-sized models then stayed at chance after one epoch (25 steps), so the nuisance is kept mild.
Gaussian pixel noise (sd 0.1) and soft anti-aliased edges are added. Pattern parameters are drawn
independently of the resolution and rendered in continuous coordinates, so one seed gives the
same images at every resolution. Classes are balanced (``index % 10``) and shuffled.

Measured (1 epoch, 32 px, 1600 train / 400 held-out, SGD lr 0.05, batch 64, one CPU thread):
EfficientNet-B0 0.44 top-1 in about 11.5 s, MnasNet-A1 0.42, a two-block toy 0.26; chance 0.10.
"""

from __future__ import annotations

import numpy as np

CLASSES = ("grating-0", "grating-45", "grating-90", "grating-135", "checkerboard",
           "disc", "square", "ring", "plus", "triangle")
NUM_CLASSES = len(CLASSES)
POOL_SIZE = 2000  # images in the default pool (train + held-out val)
NOISE = 0.10           # sd of per-pixel Gaussian noise (0..1 scale)
TINT = 0.08            # sd of the per-channel colour tint of background and foreground
CONTRAST = (0.35, 0.65)  # foreground-background brightness difference
_CHUNK = 256  # images rendered at once: bounds float memory at large resolutions


def make_synthetic(n: int, resolution: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Render `n` images of the synthetic dataset.

    Args:
        n: number of images.
        resolution: side in pixels.
        seed: the same seed gives the same images and labels (at any resolution).

    Returns:
        (images uint8 [n, 3, resolution, resolution], labels int64 [n]).
    """
    params = _draw_params(n, np.random.default_rng(seed))
    images = np.empty((n, 3, resolution, resolution), np.uint8)
    for start in range(0, n, _CHUNK):
        part = {k: v[start:start + _CHUNK] for k, v in params.items()}
        noise_rng = np.random.default_rng([seed, 1, start])
        images[start:start + _CHUNK] = _render(part, resolution, noise_rng)
    return images, params["label"].astype(np.int64)


def _draw_params(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    label = rng.permutation(np.arange(n) % NUM_CLASSES)
    level = rng.uniform(0.0, 1.0, (n, 1))
    away = np.where(level < 0.5, 1.0, -1.0)  # the foreground brighter on dark, and back
    fg_level = level + away * rng.uniform(CONTRAST[0], CONTRAST[1], (n, 1))
    bg = np.clip(level + rng.normal(0, TINT, (n, 3)), 0, 1)
    fg = np.clip(fg_level + rng.normal(0, TINT, (n, 3)), 0, 1)
    return {
        "label": label, "bg": bg, "fg": fg,
        "angle": rng.uniform(-12, 12, n) * np.pi / 180,   # jitter around the class angle
        "freq": rng.uniform(1.5, 3.5, n),                  # grating cycles per image width
        "phase": rng.uniform(0, 2 * np.pi, n),
        "center": rng.uniform(-0.35, 0.35, (n, 2)),
        "size": rng.uniform(0.35, 0.6, n),                 # shape radius, image half-width = 1
        "spin": rng.uniform(0, 2 * np.pi, n),              # shape rotation
    }


def _render(p: dict[str, np.ndarray], res: int, rng: np.random.Generator) -> np.ndarray:
    axis = (np.arange(res) + 0.5) / res * 2 - 1
    y, x = np.meshgrid(axis, axis, indexing="ij")
    mask = np.empty((len(p["label"]), res, res))
    for c in range(NUM_CLASSES):
        idx = np.flatnonzero(p["label"] == c)
        if idx.size:
            sub = {k: v[idx] for k, v in p.items()}
            mask[idx] = _MASKS[c](x[None], y[None], sub, 2.0 / res)
    img = p["bg"][:, :, None, None] + (p["fg"] - p["bg"])[:, :, None, None] * mask[:, None]
    img += rng.normal(0.0, NOISE, img.shape)
    return np.clip(np.rint(img * 255), 0, 255).astype(np.uint8)


def _col(a: np.ndarray) -> np.ndarray:
    return a[:, None, None]


def _grating(degrees: float):
    def mask(x, y, p, pixel):
        theta = np.deg2rad(degrees) + _col(p["angle"])
        t = x * np.cos(theta) + y * np.sin(theta)
        return 0.5 + 0.5 * np.sin(np.pi * _col(p["freq"]) * t + _col(p["phase"]))
    return mask


def _checkerboard(x, y, p, pixel):
    u, v = _rotate(x, y, _col(p["angle"]))
    w = np.pi * _col(p["freq"])
    return 0.5 + 0.5 * np.tanh(4 * np.sin(w * u + _col(p["phase"])) * np.sin(w * v))


def _rotate(x, y, theta):
    c, s = np.cos(theta), np.sin(theta)
    return c * x + s * y, -s * x + c * y


def _local(x, y, p):
    """Coordinates relative to the shape's centre, rotated by its spin."""
    dx, dy = x - _col(p["center"][:, 0]), y - _col(p["center"][:, 1])
    return _rotate(dx, dy, _col(p["spin"]))


def _soft(signed_distance, pixel):
    """Inside (< 0) -> 1, outside -> 0, with a one-pixel anti-aliased edge."""
    return np.clip(0.5 - signed_distance / pixel, 0.0, 1.0)


def _disc(x, y, p, pixel):
    u, v = _local(x, y, p)
    return _soft(np.hypot(u, v) - _col(p["size"]), pixel)


def _square(x, y, p, pixel):
    u, v = _local(x, y, p)
    return _soft(np.maximum(abs(u), abs(v)) - 0.85 * _col(p["size"]), pixel)


def _ring(x, y, p, pixel):
    r = _col(p["size"])
    u, v = _local(x, y, p)
    return _soft(abs(np.hypot(u, v) - 0.7 * r) - 0.3 * r, pixel)


def _plus(x, y, p, pixel):
    r = _col(p["size"])
    u, v = _local(x, y, p)
    arm_a = np.maximum(abs(u) - r, abs(v) - 0.3 * r)
    arm_b = np.maximum(abs(u) - 0.3 * r, abs(v) - r)
    return _soft(np.minimum(arm_a, arm_b), pixel)


def _triangle(x, y, p, pixel):
    u, v = _local(x, y, p)
    edges = [u * np.cos(a) + v * np.sin(a) for a in np.deg2rad([90, 210, 330])]
    return _soft(np.maximum.reduce(edges) - 0.5 * _col(p["size"]), pixel)


_MASKS = (_grating(0), _grating(45), _grating(90), _grating(135), _checkerboard,
          _disc, _square, _ring, _plus, _triangle)
