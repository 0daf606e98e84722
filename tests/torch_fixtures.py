"""Seeded reference weights and images for the PyTorch conversion fixtures (numpy only).

``tools/make_torch_fixtures.py`` (with torch) and ``tests/test_convert.py`` (without) both build the same
state dict from a committed key/shape list and a seed, so only the key list and the reference's outputs are
committed (``tests/fixtures/torch_reference/``), never weights.

Every tensor draws from its own generator, seeded by ``(seed, crc32(key))``, using uniform draws only, so a
tensor depends on neither the key order nor the draws of others. Scales keep activations O(1) and the
logits dependent on the image (not only on biases): conv weights have variance ``1.5 / fan_in``, linear
``1 / fan_in``, BatchNorm gamma and running_var lie in [0.5, 1.5], biases, BN beta and running_mean in
[-0.01, 0.01]. (Logits are O(1) with [0, 1]-scale inputs; megvii's ShuffleNetV1 takes raw [0, 255] pixels and
its logits scale with them.)
"""

import json
import os
import zlib

import numpy as np

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "torch_reference")
# The reference input normalizations: ImageNet mean / std (timm, torchvision, MobileNeXt), megvii's raw BGR.
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)


def _uniform(key, seed, shape, low, high):
    rng = np.random.default_rng([seed, zlib.crc32(key.encode("utf-8"))])
    return (low + (high - low) * rng.random(shape)).astype(np.float32)


def seeded_tensor(key, shape, seed):
    """The seeded value of state-dict entry ``key`` with ``shape`` (see the module docstring)."""
    shape = tuple(shape)
    leaf = key.rsplit(".", 1)[-1]
    if leaf == "num_batches_tracked":
        return np.zeros(shape, np.int64)
    if leaf == "running_var" or (leaf == "weight" and len(shape) == 1):
        return _uniform(key, seed, shape, 0.5, 1.5)
    if len(shape) == 1:
        return _uniform(key, seed, shape, -0.01, 0.01)
    fan_in = int(np.prod(shape[1:]))
    std = np.sqrt((1.5 if len(shape) == 4 else 1.0) / fan_in)
    bound = float(std * np.sqrt(3.0))
    return _uniform(key, seed, shape, -bound, bound)


def seeded_state_dict(keys_and_shapes, seed):
    """``{key: ndarray}`` for ``[(key, shape), ...]``, in that order."""
    return {key: seeded_tensor(key, shape, seed) for key, shape in keys_and_shapes}


def seeded_images(seed, count, size):
    """``count`` RGB images, NHWC float32 with integer values in [0, 255]: random 8 x 8 colour blocks plus
    pixel noise (blocks, not noise alone, so the images still differ after global pooling); ``size`` is a
    multiple of 8."""
    rng = np.random.default_rng(seed)
    blocks = rng.random((count, 8, 8, 3)) * 224.0
    pixels = np.repeat(np.repeat(blocks, size // 8, axis=1), size // 8, axis=2)
    return np.floor(pixels + rng.random((count, size, size, 3)) * 32.0).astype(np.float32)


def reference_input(images, normalization):
    """NCHW input for the reference: ``"imagenet"`` -> (x / 255 - mean) / std, RGB; ``"raw_bgr"`` -> BGR, 0-255."""
    if normalization == "imagenet":
        x = (images / np.float32(255.0) - IMAGENET_MEAN) / IMAGENET_STD
    elif normalization == "raw_bgr":
        x = images[..., ::-1]
    else:
        raise ValueError(f"normalization={normalization!r}; accepted values: 'imagenet', 'raw_bgr'.")
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2), dtype=np.float32)


def load_fixture(model_name):
    """``(spec dict, reference logits)`` committed for ``model_name``."""
    with open(os.path.join(FIXTURES, f"{model_name}.json"), encoding="utf-8") as f:
        spec = json.load(f)
    return spec, np.load(os.path.join(FIXTURES, f"{model_name}_logits.npy"))
