"""Shared helpers: which Keras line runs, registry-driven parameters, small inputs."""

import numpy as np
import pytest

from keras_mobile import backend
from keras_mobile.registry import list_models, model_info

LEGACY = backend.IS_LEGACY_KERAS
keras = backend.keras

keras3_only = pytest.mark.skipif(LEGACY, reason="Keras 3 behaviour; the tf_keras run covers its own line")

ALL_MODELS = list_models()


def one_per_family():
    """The first registered variant of every family (for the heavier checks)."""
    seen = {}
    for name in ALL_MODELS:
        seen.setdefault(model_info(name).family, name)
    return sorted(seen.values())


def small_resolution(name):
    """The smallest resolution the model builds at (fast tests)."""
    return model_info(name).min_resolution


def random_images(resolution, batch=2, seed=0):
    """RGB images in [0, 255], the package's input convention."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 255, (batch, resolution, resolution, 3)).astype("float32")


def randomize_weights(model, seed=0):
    """Give every weight random values (BN variances positive) so comparisons are meaningful."""
    rng = np.random.default_rng(seed)
    values = []
    for weight in model.weights:
        shape = tuple(weight.shape)
        name = getattr(weight, "path", None) or weight.name
        if "variance" in name:
            values.append(rng.uniform(0.5, 1.5, shape).astype("float32"))
        else:
            values.append(rng.normal(0.0, 0.1, shape).astype("float32"))
    model.set_weights(values)
    return model
