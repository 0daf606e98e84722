"""ShuffleNetV2 (Ma et al. 2018, "ShuffleNet V2", Table 5).

Reference: torchvision ``torchvision/models/shufflenetv2.py`` (pytorch/vision
@ 0248e364): stem conv 3x3/2 (24) -> BN -> ReLU -> max pool 3x3/2, stages of
4 / 8 / 4 units (the first of each stride 2), conv5 1x1 -> BN -> ReLU, global
average pool and a Dense classifier with bias (no dropout). PyTorch padding
(symmetric), BN eps 1e-5 / momentum 0.1 (Keras 0.9).
"""

from keras_mobile.blocks.conv import TORCH_STYLE, conv_bn_act
from keras_mobile.blocks.shuffle import pool_3x3_s2, shufflenet_v2_unit
from keras_mobile.builder import FeatureMaps, model_builder, pooled_dense_top
from keras_mobile.registry import register_variants
from keras_mobile.validation import check_choice

NORMALIZATION = "imagenet"  # the reference was trained on ImageNet mean / std input (timm / torchvision / official code)

REPEATS = (4, 8, 4)
# torchvision ``stages_out_channels``: stem, stage 2, stage 3, stage 4, conv5.
CHANNELS = {
    0.5: (24, 48, 96, 192, 1024),
    1.0: (24, 116, 232, 464, 1024),
    1.5: (24, 176, 352, 704, 1024),
    2.0: (24, 244, 488, 976, 2048),
}
SCALES = tuple(CHANNELS)
MIN_RESOLUTION = 32
SOURCE = "pytorch/vision torchvision/models/shufflenetv2.py"


@model_builder
def ShuffleNetV2(options, scale=1.0, dropout_rate=0.0):
    """ShuffleNetV2 ``scale`` x (0.5, 1.0, 1.5 or 2.0, torchvision's four widths).

    Any resolution >= 32 builds. Inputs follow the package convention (see
    ``keras_mobile.builder``).
    """
    scale = float(check_choice("scale", scale, SCALES))
    stem_width, *stage_widths, head_width = CHANNELS[scale]
    model_input, x = options.inputs(MIN_RESOLUTION, normalization=NORMALIZATION)
    features = FeatureMaps()
    x = features.add(conv_bn_act(x, stem_width, 3, 2, act="relu", style=TORCH_STYLE, name="stem"), 2)
    x = features.add(pool_3x3_s2(x, "max", TORCH_STYLE, name="stem_pool"), 2)
    for stage, (repeats, filters) in enumerate(zip(REPEATS, stage_widths), start=1):
        for index in range(repeats):
            strides = 2 if index == 0 else 1
            x = shufflenet_v2_unit(x, filters, strides, TORCH_STYLE, name=f"stage{stage}_block{index + 1}")
            features.add(x, strides)
    x = conv_bn_act(x, head_width, 1, act="relu", style=TORCH_STYLE, name="head")
    return options.finish(model_input, x, features, pooled_dense_top(dropout_rate), f"shufflenet_v2_{scale:.2f}")


def _variant(scale):
    return "shufflenet_v2_x" + f"{scale:.1f}".replace(".", "_")


register_variants(
    "shufflenet_v2",
    ShuffleNetV2,
    {_variant(s): {"scale": s} for s in SCALES},
    normalization=NORMALIZATION,
    width_arg="scale",
    min_resolution=MIN_RESOLUTION,
    references={
        "shufflenet_v2_x0_5": (1366792, 40476448, SOURCE),
        "shufflenet_v2_x1_0": (2278604, 144907992, SOURCE),
        "shufflenet_v2_x1_5": (3503624, 295759392, SOURCE),
        "shufflenet_v2_x2_0": (7393996, 583253464, SOURCE),
    },
)
