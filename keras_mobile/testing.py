"""Synthetic inputs and weight settings for tests, demonstrations and export checks on untrained models.

    images = sample_images((96, 96, 3), count=32, seed=1)   # varied RGB scenes in [0, 255]
    calibrate_batchnorm(model, images, gamma=0.6)           # BN statistics of those images

``export_model`` uses ``sample_images`` as its default calibration and parity
data when none is given.
"""

import numpy as np

from keras_mobile.profile import flat_layers


def sample_images(shape, count=16, seed=0):
    """Varied RGB images in [0, 255] (the package input convention), ``(count, h, w, c)`` float32.

    Smooth random scenes: a coarse random colour grid upsampled bilinearly, with
    per-image brightness and contrast, plus a little pixel noise. Unlike i.i.d.
    noise, different images give different pooled features, so top-1 agreement
    means something.
    """
    import tensorflow as tf

    height, width, channels = shape
    rng = np.random.default_rng(seed)
    images = []
    for _ in range(count):
        grid = int(rng.integers(2, 7))
        coarse = rng.uniform(0.0, 1.0, (1, grid, grid, channels)).astype("float32")
        smooth = tf.image.resize(coarse, (height, width), method="bilinear").numpy()[0]
        contrast, brightness = rng.uniform(0.3, 1.0), rng.uniform(0.0, 1.0)
        image = brightness + contrast * (smooth - 0.5) + rng.normal(0.0, 0.03, (height, width, channels))
        images.append(np.clip(image, 0.0, 1.0) * 255.0)
    return np.stack(images).astype("float32")


def calibrate_batchnorm(model, images, gamma=None):
    """Set every BatchNormalization's moving statistics to those of ``images`` (random-weight models).

    One forward pass in training mode with momentum 0: each BN normalizes with
    its batch statistics and stores them as its moving statistics, so in
    inference every layer then sees the activations scale a trained network has.
    Only moving statistics change (Dropout acts in that pass but holds no state).

    gamma: also set every BN scale to this value first. An untrained deep net
      with gamma 1 is chaotic (a 1e-3 relative change of the input moves its
      outputs by ~0.1, so no int8 model can follow it); 0.6 keeps outputs
      varied between images yet stable, like a trained network's. Use it only
      for demonstrations and tests on random weights.
    """
    bn_layers = [layer for layer in flat_layers(model) if type(layer).__name__ == "BatchNormalization"]
    if gamma is not None:
        for layer in bn_layers:
            if layer.gamma is not None:
                layer.gamma.assign(np.full(tuple(layer.gamma.shape), gamma, "float32"))
    momenta = [layer.momentum for layer in bn_layers]
    try:
        for layer in bn_layers:
            layer.momentum = 0.0
        model(np.asarray(images, "float32"), training=True)
    finally:
        for layer, momentum in zip(bn_layers, momenta):
            layer.momentum = momentum
    return model
