"""Pretrained weights: keras.applications' ImageNet files, local weights files, and checkpoints converted
from PyTorch (``keras_mobile.convert``)."""

from keras_mobile.pretrained.files import load_weights

__all__ = ["load_weights"]
