"""Every registered variant: trainable parameters and Mult-Adds equal the reference implementation's figures
recorded in the registry (one source: ``ModelInfo.reference``, which docs/zoo.md's table is generated
from), and its graph is stock layers with unique names.

A Mult-Add is one multiply-accumulate of a convolution or dense layer, counted at the variant's default
resolution (224 px; 299 for Xception) with 1000 classes. On the tf_keras line only the structurally distinct
variants are built (the builders are the same code; the line changes the layers' classes).
"""

import pytest

from helpers import ALL_MODELS, LEGACY, STRUCTURAL_VARIANTS
from keras_mobile.profile import mult_adds, trainable_params
from keras_mobile.registry import create_model, model_info

# Layers that wrap raw tensor arithmetic: TF-MOT cannot quantize them, TFLite may not fuse them.
OPAQUE_LAYERS = {"Lambda", "TFOpLambda", "SlicingOpLambda"}


def test_every_registered_model_cites_its_reference_figures():
    for name in ALL_MODELS:
        reference = model_info(name).reference
        assert reference is not None, f"{name} has no reference figures"
        params, macs, source = reference
        assert params > 0 and macs > 0 and source.strip(), name


@pytest.mark.both_lines
@pytest.mark.parametrize("name", STRUCTURAL_VARIANTS if LEGACY else ALL_MODELS)
def test_params_mult_adds_and_layers(name):
    info = model_info(name)
    resolution = info.default_resolution
    model = create_model(name, input_shape=(resolution, resolution, 3))
    assert (trainable_params(model), mult_adds(model)) == tuple(info.reference[:2])
    kinds = {type(layer).__name__ for layer in model.layers}
    assert not kinds & OPAQUE_LAYERS, kinds & OPAQUE_LAYERS
    names = [layer.name for layer in model.layers]
    assert len(names) == len(set(names)), sorted({n for n in names if names.count(n) > 1})
