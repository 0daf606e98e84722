"""Every registered variant's trainable parameters and Mult-Adds, pinned; headline
variants against the reference implementations' figures.

A Mult-Add is one multiply-accumulate of a convolution or dense layer, counted at
the variant's default resolution (224 px; 299 for Xception) with 1000 classes.
"""

import pytest

from conftest import ALL_MODELS, LEGACY, one_per_family
from keras_mobile.profile import mult_adds, trainable_params
from keras_mobile.registry import create_model, model_info

# name: (trainable params, Mult-Adds) -- our builders, pinned.
PINNED = {
    "mixnet_l": (7329252, 555251792),
    "mixnet_m": (5014382, 339172672),
    "mixnet_s": (4134606, 239173360),
    "mobilenetv1_025": (470072, 41030272),
    "mobilenetv1_050": (1331592, 149497088),
    "mobilenetv1_075": (2585560, 325400448),
    "mobilenetv1_100": (4231976, 568740352),
    "mobilenetv2_035": (1677128, 59285808),
    "mobilenetv2_050": (1968680, 97131840),
    "mobilenetv2_075": (2636424, 209069792),
    "mobilenetv2_100": (3504872, 300774272),
    "mobilenetv2_130": (5386792, 509374560),
    "mobilenetv2_140": (6108776, 582195824),
    "mobilenetv3_large_075": (3993528, 154560624),
    "mobilenetv3_large_100": (5483032, 216589760),
    "mobilenetv3_large_minimal_075": (3050312, 148802544),
    "mobilenetv3_large_minimal_100": (3924288, 209136704),
    "mobilenetv3_small_075": (2041872, 43399344),
    "mobilenetv3_small_100": (2542856, 56510400),
    "mobilenetv3_small_minimal_075": (1732512, 40072880),
    "mobilenetv3_small_minimal_100": (2044736, 52288448),
    "mobilenext_035": (1913976, 75141032),
    "mobilenext_050": (2152304, 103256448),
    "mobilenext_075": (2766168, 207926720),
    "mobilenext_100": (3535416, 311342592),
    "mobilenext_140": (6126168, 588319256),
    "rexnet_100": (4796873, 398370392),
    "rexnet_130": (7557091, 662229098),
    "rexnet_150": (9728593, 875828154),
    "rexnet_200": (16366620, 1528850782),
    "shufflenet_v1_g1_050": (533484, 38517408),
    "shufflenet_v1_g1_100": (1530936, 143078976),
    "shufflenet_v1_g1_150": (2992032, 308096352),
    "shufflenet_v1_g1_200": (4917744, 550334592),
    "shufflenet_v1_g2_050": (677520, 40906464),
    "shufflenet_v1_g2_100": (1732848, 140836512),
    "shufflenet_v1_g2_150": (3341000, 308992448),
    "shufflenet_v1_g2_200": (5256896, 539138624),
    "shufflenet_v1_g3_050": (717324, 37589856),
    "shufflenet_v1_g3_100": (1864728, 137460672),
    "shufflenet_v1_g3_150": (3441168, 292443552),
    "shufflenet_v1_g3_200": (5449776, 524045184),
    "shufflenet_v1_g4_050": (834984, 40710528),
    "shufflenet_v1_g4_100": (1967344, 134339776),
    "shufflenet_v1_g4_150": (3678712, 295086976),
    "shufflenet_v1_g4_200": (5592528, 510289536),
    "shufflenet_v1_g8_050": (1010448, 40469760),
    "shufflenet_v1_g8_100": (2433768, 138365952),
    "shufflenet_v1_g8_150": (4268952, 290188800),
    "shufflenet_v1_g8_200": (6521232, 521942016),
    "shufflenet_v2_x0_5": (1366792, 40476448),
    "shufflenet_v2_x1_0": (2278604, 144907992),
    "shufflenet_v2_x1_5": (3503624, 295759392),
    "shufflenet_v2_x2_0": (7393996, 583253464),
    "squeezenet1_0": (1248424, 818924576),
    "squeezenet1_1": (1235496, 349151936),
    "xception": (22855952, 8357403496),
}

# Headline figures from the reference implementations (issue #2), counted the same way.
HEADLINE = {
    "mobilenetv1_100": (4231976, 568.7e6),
    "mobilenetv2_100": (3504872, 300.8e6),
    "mobilenetv3_large_100": (5483032, 216.6e6),
    "mobilenetv3_small_100": (2542856, 56.5e6),
    "mobilenext_100": (3535416, 311.3e6),
    "rexnet_100": (4796873, 398.4e6),
    "mixnet_s": (4134606, 239.2e6),
    "shufflenet_v2_x1_0": (2278604, 144.9e6),
    "squeezenet1_1": (1235496, 349.2e6),
    "xception": (22855952, 8.36e9),
}


def test_every_registered_model_is_pinned():
    assert sorted(PINNED) == ALL_MODELS


def test_every_headline_model_is_registered():
    assert set(HEADLINE) <= set(ALL_MODELS)


# Every variant on Keras 3; one per family on tf_keras (the same builders; the line only changes the layers' class).
@pytest.mark.parametrize("name", one_per_family() if LEGACY else ALL_MODELS)
def test_params_and_mult_adds(name):
    info = model_info(name)
    resolution = info.default_resolution
    model = create_model(name, input_shape=(resolution, resolution, 3))
    counted = (trainable_params(model), mult_adds(model))
    assert counted == PINNED[name]
    for params, macs in filter(None, [HEADLINE.get(name), info.reference and info.reference[:2]]):
        assert counted[0] == pytest.approx(params, rel=0.01)
        assert counted[1] == pytest.approx(macs, rel=0.01)
