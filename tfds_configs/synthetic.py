"""Procedural shapes-and-textures images: the content of the default dataset.

Each example is a pure function of `(seed, split, index)`: its own NumPy
generator draws the image size, colours, placement, scale and rotation, and
the image is rendered with exact arithmetic only (additions, products,
comparisons, floors), so the same seed gives the same pixels and the same
JPEG bytes in every process. Nothing is downloaded and nothing is stored in
the repository.

Classes are five filled shapes and five textured patches. Colours are drawn
per image (the object is always light on dark or dark on light), so a network
has to learn form and texture rather than colour.
"""

import hashlib
import math

import numpy as np

from keras_mobile import validation

CLASS_NAMES = (
    "disc",
    "square",
    "triangle",
    "ring",
    "cross",
    "horizontal_stripes",
    "vertical_stripes",
    "checkerboard",
    "dots",
    "diagonal_stripes",
)
SPLITS = ("train", "validation")
SIDE_RANGE = (160, 224)  # Height and width are drawn independently, inclusive.
JPEG_QUALITY = 90

_OBJECT_SCALE = (0.35, 0.75)  # Object diameter as a fraction of the short side.
_MAX_ROTATION = 0.35  # Radians, about 20 degrees either way.
_NOISE = 10  # Uniform per-pixel noise amplitude.


def _colours(rng):
    """Background gradient end points and a contrasting foreground colour."""
    dark, light = (0, 120), (135, 256)
    bg_range, fg_range = (dark, light) if rng.random() < 0.5 else (light, dark)
    bg = rng.integers(*bg_range, size=(2, 3)).astype(np.float32)
    fg = rng.integers(*fg_range, size=3).astype(np.float32)
    return bg, fg


def _object_coordinates(rng, height, width):
    """Pixel grid in object units: (u, v) rotated, centred, radius 1."""
    radius = rng.uniform(*_OBJECT_SCALE) * min(height, width) / 2
    cy = rng.uniform(radius, height - radius)
    cx = rng.uniform(radius, width - radius)
    angle = rng.uniform(-_MAX_ROTATION, _MAX_ROTATION)
    cos, sin = math.cos(angle) / radius, math.sin(angle) / radius
    y = np.arange(height, dtype=np.float32)[:, None] - np.float32(cy)
    x = np.arange(width, dtype=np.float32)[None, :] - np.float32(cx)
    u = x * np.float32(cos) + y * np.float32(sin)
    v = y * np.float32(cos) - x * np.float32(sin)
    return u, v


def _even(values):
    return np.floor(values) % 2 == 0


def _mask(label, u, v, frequency):
    """Boolean foreground mask of class `label` on object coordinates."""
    au, av = np.abs(u), np.abs(v)
    d2 = u * u + v * v
    patch = np.maximum(au, av) <= 1
    ku, kv = u * frequency, v * frequency
    masks = {
        "disc": lambda: d2 <= 1,
        "square": lambda: np.maximum(au, av) <= 0.75,
        "triangle": lambda: (v >= -0.8) & (v <= 0.7) & (au <= (v + 0.8) * 0.6),
        "ring": lambda: (d2 <= 1) & (d2 >= 0.36),
        "cross": lambda: ((au <= 0.22) & (av <= 0.9)) | ((av <= 0.22) & (au <= 0.9)),
        "horizontal_stripes": lambda: patch & _even(kv),
        "vertical_stripes": lambda: patch & _even(ku),
        "checkerboard": lambda: patch & _even(np.floor(ku) + np.floor(kv)),
        "dots": lambda: patch
        & ((ku - np.floor(ku) - 0.5) ** 2 + (kv - np.floor(kv) - 0.5) ** 2 <= 0.1),
        "diagonal_stripes": lambda: patch & _even((ku + kv) * 0.7),
    }
    return masks[CLASS_NAMES[label]]()


def render(rng, label, size=None):
    """Draws one uint8 RGB image of class `label` using generator `rng`.

    `size` is (height, width); by default both are drawn from `SIDE_RANGE`.
    """
    height, width = rng.integers(SIDE_RANGE[0], SIDE_RANGE[1] + 1, size=2)
    if size is not None:
        height, width = size
    bg, fg = _colours(rng)
    direction = rng.uniform(-1.0, 1.0, size=2).astype(np.float32)
    ramp = (
        np.arange(height, dtype=np.float32)[:, None] * (direction[0] / height)
        + np.arange(width, dtype=np.float32)[None, :] * (direction[1] / width)
    )
    ramp = (ramp - ramp.min()) / np.float32(max(ramp.max() - ramp.min(), 1e-3))
    u, v = _object_coordinates(rng, height, width)
    frequency = np.float32(rng.integers(3, 6))
    mask = _mask(label, u, v, frequency).astype(np.float32)
    noise = rng.integers(-_NOISE, _NOISE + 1, size=(3, height, width), dtype=np.int8)
    # One channel at a time keeps NumPy on its fast scalar-broadcast loops.
    image = np.empty((height, width, 3), np.uint8)
    for c in range(3):
        channel = bg[0, c] + ramp * (bg[1, c] - bg[0, c])
        channel += mask * (fg[c] - channel)
        channel += noise[c]
        image[..., c] = np.clip(channel, 0, 255)
    return image


def _rng(seed, split, index):
    return np.random.default_rng([seed, SPLITS.index(split), index])


def example(seed, split, index):
    """Returns `(image, label)` of example `index`: a uint8 array and an int."""
    label = index % len(CLASS_NAMES)
    return render(_rng(seed, split, index), label), label


def encode_jpeg(image):
    """Encodes a uint8 RGB array as baseline JPEG bytes."""
    import tensorflow as tf  # Heavy import, kept out of module import.

    return tf.io.encode_jpeg(image, quality=JPEG_QUALITY).numpy()


def generate(seed, split, num_examples):
    """Yields `(index, jpeg_bytes, label)` for examples 0..num_examples-1."""
    validation.check_int("seed", seed, minimum=0)
    validation.check_choice("split", split, SPLITS)
    validation.check_int("num_examples", num_examples, minimum=1)
    for index in range(num_examples):
        image, label = example(seed, split, index)
        yield index, encode_jpeg(image), label


def digest(seed, split, num_examples):
    """SHA-256 over the encoded examples: equal digests mean equal datasets."""
    sha = hashlib.sha256()
    for index, jpeg, label in generate(seed, split, num_examples):
        sha.update(f"{index}:{label}:{len(jpeg)}:".encode())
        sha.update(jpeg)
    return sha.hexdigest()
