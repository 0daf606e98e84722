"""SqueezeNet 1.0 and 1.1 (Iandola et al. 2016, "SqueezeNet", Table 1).

Reference: torchvision ``torchvision/models/squeezenet.py`` (pytorch/vision
@ 03ecb913). Every conv has a bias and is followed by ReLU; there is no batch
normalisation. Stem: an unpadded conv 7x7/2 (96, v1.0) or 3x3/2 (64, v1.1).
Max pools are 3x3/2 with ``ceil_mode=True``; classifier: dropout 0.5 -> 1x1
conv with bias -> ReLU -> global average pool (no Dense layer).

``ceil_mode`` is reproduced exactly at every input size by zero-padding one
row/column at the bottom/right before a VALID pool: ``floor((n + 1 - 3) / 2) + 1
== ceil((n - 3) / 2) + 1``, and zeros never win the max because the pool inputs
are post-ReLU (>= 0). (At 224 px this matters for v1.0's second pool, 54 -> 27
where a floor pool gives 26.)
"""

from keras_mobile.backend import layers
from keras_mobile.blocks.conv import TORCH_STYLE, activation
from keras_mobile.blocks.fire import fire
from keras_mobile.builder import FeatureMaps, model_builder
from keras_mobile.registry import register_variants
from keras_mobile.validation import check_choice

NORMALIZATION = "imagenet"  # the reference was trained on ImageNet mean / std input (timm / torchvision / official code)

# version: ((stem filters, stem kernel), stages of Fire (squeeze, expand1x1, expand3x3)); a
# ceil-mode max pool opens every stage.
ARCHITECTURES = {
    "1.0": (
        (96, 7),
        (
            ((16, 64, 64), (16, 64, 64), (32, 128, 128)),
            ((32, 128, 128), (48, 192, 192), (48, 192, 192), (64, 256, 256)),
            ((64, 256, 256),),
        ),
    ),
    "1.1": (
        (64, 3),
        (
            ((16, 64, 64), (16, 64, 64)),
            ((32, 128, 128), (32, 128, 128)),
            ((48, 192, 192), (48, 192, 192), (64, 256, 256), (64, 256, 256)),
        ),
    ),
}
VERSIONS = tuple(ARCHITECTURES)
MIN_RESOLUTION = {"1.0": 21, "1.1": 17}  # smallest sizes that build (stem + three ceil-mode pools)
SOURCE = "pytorch/vision torchvision/models/squeezenet.py"


def ceil_max_pool(x, name):
    """PyTorch ``MaxPool2d(3, 2, ceil_mode=True)`` on inputs >= 0: ``{name}_pad`` + ``{name}``."""
    x = layers.ZeroPadding2D(((0, 1), (0, 1)), name=f"{name}_pad")(x)
    return layers.MaxPooling2D(3, 2, padding="valid", name=name)(x)


@model_builder
def SqueezeNet(options, version="1.1", dropout_rate=0.5):
    """SqueezeNet ``version`` "1.0" or "1.1" (v1.1: same accuracy, 2.4x fewer Mult-Adds).

    Smallest resolution: 21 px (v1.0), 17 px (v1.1). Feature maps reach stride
    16. Inputs follow the package convention (see ``keras_mobile.builder``).
    """
    version = check_choice("version", version, VERSIONS)
    (stem_filters, stem_kernel), stages = ARCHITECTURES[version]
    model_input, x = options.inputs(MIN_RESOLUTION[version], normalization=NORMALIZATION)
    features = FeatureMaps()
    x = layers.Conv2D(stem_filters, stem_kernel, strides=2, padding="valid", use_bias=True, name="stem_conv")(x)
    x = features.add(activation(x, "relu", "stem_act"), 2)
    for stage, blocks in enumerate(stages, start=1):
        x = features.add(ceil_max_pool(x, f"stage{stage}_pool"), 2)
        for index, (squeeze, expand1x1, expand3x3) in enumerate(blocks, start=1):
            x = features.add(fire(x, squeeze, expand1x1, expand3x3, TORCH_STYLE, name=f"stage{stage}_block{index}"))

    def top(x, classes):
        if dropout_rate:
            x = layers.Dropout(dropout_rate, name="dropout")(x)
        x = layers.Conv2D(classes, 1, use_bias=True, name="logits_conv")(x)
        x = activation(x, "relu", "logits_act")
        return layers.GlobalAveragePooling2D(name="logits")(x)

    return options.finish(model_input, x, features, top, f"squeezenet{version.replace('.', '_')}")


for _version in VERSIONS:
    register_variants(
        "squeezenet",
        SqueezeNet,
        {f"squeezenet{_version.replace('.', '_')}": {"version": _version}},
        min_resolution=MIN_RESOLUTION[_version],
        normalization=NORMALIZATION,
        references={
            "squeezenet1_0": (1248424, 818924576, SOURCE),
            "squeezenet1_1": (1235496, 349151936, SOURCE),
        },
    )
