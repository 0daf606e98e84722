"""create_model / list_models cover every family and variant the zoo promises."""

import numpy as np
import pytest

import keras_mobile
from helpers import REPRESENTATIVES, families
from keras_mobile.registry import model_info

EXPECTED = (
    [f"mobilenetv1_{w}" for w in ("025", "050", "075", "100")]
    + [f"mobilenetv2_{w}" for w in ("035", "050", "075", "100", "130", "140")]
    + [f"mobilenetv3_{k}{m}_{w}" for k in ("large", "small") for m in ("", "_minimal") for w in ("075", "100")]
    + [f"mobilenext_{w}" for w in ("035", "050", "075", "100", "140")]
    + [f"rexnet_{w}" for w in ("100", "130", "150", "200")]
    + ["mixnet_s", "mixnet_m", "mixnet_l", "xception", "squeezenet1_0", "squeezenet1_1"]
    + [f"shufflenet_v1_g{g}_{w}" for g in (1, 2, 3, 4, 8) for w in ("050", "100", "150", "200")]
    + [f"shufflenet_v2_x{w}" for w in ("0_5", "1_0", "1_5", "2_0")]
)


def test_every_promised_variant_is_registered():
    assert set(EXPECTED) <= set(keras_mobile.list_models())


def test_list_models_filters_by_pattern():
    assert keras_mobile.list_models("mixnet_*") == ["mixnet_l", "mixnet_m", "mixnet_s"]
    assert keras_mobile.list_models("nothing*") == []


def test_create_model_applies_overrides():
    model = keras_mobile.create_model("mobilenetv2_050", input_shape=(96, 96, 3), classes=5, name="mine")
    assert model.name == "mine"
    assert tuple(model.output.shape) == (None, 5)


def test_registered_constructor_is_thin():
    info = model_info("mobilenetv3_small_075")
    assert info.family == "mobilenetv3"
    assert info.arguments == {"model_type": "small", "alpha": 0.75, "minimalistic": False}
    with pytest.raises(TypeError):
        info.constructor(not_an_argument=1)


# What makes each family's representative (tests/helpers.py) stand for its family in the heavier tests:
# family -> (layer classes it must contain, whether it has a grouped convolution, depthwise kernel sizes).
SPECIAL_LAYERS = {
    "mixnet": ({"ChannelSplit", "Concatenate", "Multiply"}, True, {3, 5, 7, 9, 11}),
    "mobilenetv3": ({"Multiply", "ReLU", "Rescaling"}, False, {3, 5}),
    "mobilenext": ({"Add", "DepthwiseConv2D"}, False, {3}),
    "rexnet": ({"ChannelSplit", "Concatenate", "Multiply"}, False, {3}),
    "shufflenet_v1": ({"ChannelShuffle", "AveragePooling2D", "Concatenate"}, True, {3}),
    "shufflenet_v2": ({"ChannelSplit", "ChannelShuffle", "Concatenate"}, False, {3}),
    "squeezenet": ({"Concatenate", "MaxPooling2D"}, False, set()),
}


def test_every_family_has_one_representative_with_its_special_layers():
    assert sorted(REPRESENTATIVES) == families()
    for family, name in REPRESENTATIVES.items():
        assert model_info(name).family == family
        if family not in SPECIAL_LAYERS:
            continue
        kinds, grouped, kernels = SPECIAL_LAYERS[family]
        resolution = model_info(name).min_resolution
        model = keras_mobile.create_model(name, input_shape=(resolution, resolution, 3))
        built = {type(layer).__name__ for layer in model.layers}
        assert kinds <= built, (name, kinds - built)
        assert any(layer.groups > 1 for layer in model.layers if type(layer).__name__ == "Conv2D") == grouped, name
        depthwise = {layer.kernel_size[0] for layer in model.layers if type(layer).__name__ == "DepthwiseConv2D"}
        assert depthwise == kernels, (name, depthwise)


def test_registry_records_the_normalization_each_model_applies():
    """The input normalization is recorded, not guessed: the registry's entry is what the built model does."""
    from keras_mobile.builder import NORMALIZATIONS

    expected = {"mobilenetv1": "inception", "mobilenetv2": "inception", "mobilenetv3": "inception",
                "xception": "inception", "rexnet": "imagenet", "mixnet": "imagenet", "mobilenext": "imagenet",
                "shufflenet_v2": "imagenet", "squeezenet": "imagenet", "shufflenet_v1": "raw"}
    for family, name in REPRESENTATIVES.items():
        info = keras_mobile.model_info(name)
        assert info.normalization == expected[family], name
        model = keras_mobile.create_model(name, input_shape=(None, None, 3), include_top=False)
        layers = {layer.name: layer for layer in model.layers}
        if NORMALIZATIONS[info.normalization] is None:
            assert "preprocess" not in layers, name
            continue
        scale, offset = NORMALIZATIONS[info.normalization]
        x = np.array([[[[0.0, 127.5, 255.0]]]], "float32")
        got = np.asarray(layers["preprocess"](x))
        np.testing.assert_allclose(got, x * np.asarray(scale) + np.asarray(offset), rtol=1e-6, err_msg=name)
