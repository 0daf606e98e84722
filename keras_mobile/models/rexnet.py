"""ReXNet (Han et al. 2021, "Rethinking Channel Dimensions for Efficient Model
Design", Table 3) built from linear bottlenecks with partial residuals.

Reference: timm ``rexnet.py`` (timm 1.0.31, adapted from clovaai/rexnet; same
channels), ``RexNet(width_mult)`` with its defaults (initial 16, final 180,
depth 1.0, SE ratio 1/12, channel divisor 1):

- 16 blocks in stages of [1, 2, 2, 3, 3, 5], first-block strides
  [1, 2, 2, 2, 1, 2]; block ``i`` has ``round((16 + 11.25 * i) * width)``
  output channels (Python ``round``: ties to even), computed in floats in the
  reference's order (``block_specs``); the input width grows linearly;
- expansion 6 (width ``round(6 * in)``) except the first block; SE (reduced
  width ``int(expanded / 12)``, BN inside, ReLU, sigmoid) from the fourth block,
  on the depthwise BN output before its ReLU6; SiLU after the stem, expansions
  and the final 1x1 conv (``round(1280 * width)``);
- residual on the first ``C_in`` channels when stride is 1;
- pool -> dropout 0.2 -> dense; PyTorch padding and BN (eps 1e-5).

| variant | params | Mult-Adds (224) |
|---|---|---|
| rexnet_100 | 4,796,873 | 398.4M |
| rexnet_130 | 7,557,091 | 662.2M |
| rexnet_150 | 9,728,593 | 875.8M |
| rexnet_200 | 16,366,620 | 1528.9M |
"""

from keras_mobile.blocks.conv import TORCH_STYLE, conv_bn_act
from keras_mobile.builder import BlockRules, FeatureMaps, build_stages, model_builder, pooled_dense_top
from keras_mobile.channels import make_divisible
from keras_mobile.registry import register_variants
from keras_mobile.specs import BlockSpec
from keras_mobile.validation import check_number

NORMALIZATION = "imagenet"  # the reference was trained on ImageNet mean / std input (timm / torchvision / official code)

STAGE_REPEATS = (1, 2, 2, 3, 3, 5)
STAGE_STRIDES = (1, 2, 2, 2, 1, 2)
NO_SE_STAGES = 2  # the first two stages (three blocks) have no SE
INITIAL_CHANNELS = 16
FINAL_CHANNELS = 180
SE_RATIO = 1 / 12.0
WIDTHS = (1.0, 1.3, 1.5, 2.0)
SOURCE = "timm 1.0.31 timm/models/rexnet.py (RexNet, from clovaai/rexnet), counted at 224 px"


def block_specs(width):
    """The reference ``_block_cfg`` at ``width`` (timm rexnet.py): one ``lb`` row per block, widths final.

    A stage's later blocks ``continue`` its first row (their widths grow block by block).
    """
    base = INITIAL_CHANNELS / width if width < 1.0 else INITIAL_CHANNELS
    depth = sum(STAGE_REPEATS)
    specs = []
    for stage, (repeats, stride) in enumerate(zip(STAGE_REPEATS, STAGE_STRIDES), start=1):
        for index in range(1, repeats + 1):
            specs.append(
                BlockSpec(
                    block="lb",
                    filters=make_divisible(round(base * width), 1),
                    expansion=1.0 if not specs else 6.0,
                    stride=stride if index == 1 else 1,
                    se_ratio=0.0 if stage <= NO_SE_STAGES else SE_RATIO,
                    continues=index > 1,
                )
            )
            base += FINAL_CHANNELS / (depth * 1.0)
    return specs


RULES = BlockRules(
    round_filters=int,  # block_specs holds the final widths
    expanded_width=lambda in_channels, spec: make_divisible(round(in_channels * spec.expansion), 1),
    se_width=lambda in_channels, expanded, spec: make_divisible(int(expanded * spec.se_ratio), 1),
    act="swish",
    depthwise_act="relu6",
    se_act="relu",
    style=TORCH_STYLE,
)


@model_builder
def ReXNet(options, width=1.0, dropout_rate=0.2):
    """ReXNet; paper widths ``width`` 1.0, 1.3, 1.5, 2.0 (any in (0, 4] builds)."""
    width = check_number("width", width, 0.0, 4.0, low_open=True)
    model_input, x = options.inputs(32, normalization=NORMALIZATION)
    features = FeatureMaps()
    stem_base = 32 / width if width < 1.0 else 32
    x = conv_bn_act(x, make_divisible(round(stem_base * width), 1), 3, 2, act="swish", style=TORCH_STYLE, name="stem")
    features.add(x, 2)
    x = build_stages(x, block_specs(width), features, RULES)
    x = conv_bn_act(x, make_divisible(1280 * width, 1), 1, act="swish", style=TORCH_STYLE, name="head")
    return options.finish(model_input, x, features, pooled_dense_top(dropout_rate), f"rexnet_{width:.2f}")


register_variants(
    "rexnet",
    ReXNet,
    {f"rexnet_{int(round(w * 100)):03d}": {"width": w} for w in WIDTHS},
    normalization=NORMALIZATION,
    width_arg="width",
    references={
        "rexnet_100": (4796873, 398370392, SOURCE),
        "rexnet_130": (7557091, 662229098, SOURCE),
        "rexnet_150": (9728593, 875828154, SOURCE),
        "rexnet_200": (16366620, 1528850782, SOURCE),
    },
)
