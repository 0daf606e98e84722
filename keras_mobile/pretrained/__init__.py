"""Pretrained weights: keras.applications' ImageNet files, local weights files, checkpoints converted from
PyTorch (``keras_mobile.convert``), and the ImageNet class names (``decode_predictions``).

Importing this package imports no Keras (``imagenet_classes`` and ``torch_checkpoint`` need only numpy);
``load_weights`` loads ``files`` on first use.
"""

__all__ = ["load_weights"]


def __getattr__(name):
    if name == "load_weights":
        from keras_mobile.pretrained.files import load_weights

        return load_weights
    raise AttributeError(f"module 'keras_mobile.pretrained' has no attribute {name!r}")
