"""ShuffleNetV1 (Zhang et al. 2018, "ShuffleNet", Table 1).

Reference: megvii-model/ShuffleNet-Series ``ShuffleNetV1/network.py`` (@ d8e4db13)
and ``ShuffleNetV1/blocks.py`` (@ a96672fd): stem conv 3x3/2 -> BN -> ReLU ->
max pool 3x3/2, stages of 4 / 8 / 4 ``shufflenet_v1_unit`` (the first of each
stride 2; bottleneck ``stage width // 4``; the first unit's first 1x1 conv is
not grouped), global average pool and a Dense classifier WITHOUT bias (no
dropout). PyTorch padding (symmetric), BN eps 1e-5 / momentum 0.1 (Keras 0.9).
The reference pools with ``AvgPool2d(7)``, global at 224 px only; this builder
uses global average pooling, identical at 224 px and defined at any resolution.

Channels ``(stem, stage 2, stage 3, stage 4)``:

- groups 3 and 8: the official tables (the only groups the megvii code defines)::

      g3: 0.5x (12, 120, 240, 480)  1.0x (24, 240, 480, 960)
          1.5x (24, 360, 720, 1440) 2.0x (48, 480, 960, 1920)
      g8: 0.5x (16, 192, 384, 768)  1.0x (24, 384, 768, 1536)
          1.5x (24, 576, 1152, 2304) 2.0x (48, 768, 1536, 3072)

- groups 1, 2 and 4 (NOT official; derived): stage 2 = paper Table 1's 1x
  stage-2 width (g1 144, g2 200, g4 272) times ``scale``, rounded to the
  nearest multiple of ``4 * groups`` as ``int(c + 2g) // 4g * 4g`` (so the
  bottleneck ``c // 4`` divides into the groups; the rule reproduces every
  official g3/g8 stage width), doubled for stage 3 and again for stage 4; stem
  from the official per-scale pattern 0.5x 12, 1.0x 24, 1.5x 24, 2.0x 48.
  Rounding changes only g2 0.5x (100 -> 104), g2 1.5x (300 -> 304),
  g4 0.5x (136 -> 144) and g4 1.5x (408 -> 416). Their figures are counted
  with the official block code on these tables, not taken from a released model.
"""

from keras_mobile.backend import layers
from keras_mobile.blocks.conv import TORCH_STYLE, conv_bn_act
from keras_mobile.blocks.shuffle import pool_3x3_s2, shufflenet_v1_unit
from keras_mobile.builder import FeatureMaps, model_builder
from keras_mobile.registry import register_variants
from keras_mobile.validation import check_choice

NORMALIZATION = "raw"  # megvii's models train on raw [0, 255] pixels (BGR; the converter flips the stem to RGB)

REPEATS = (4, 8, 4)
GROUPS = (1, 2, 3, 4, 8)
SCALES = (0.5, 1.0, 1.5, 2.0)
OFFICIAL = {
    3: {0.5: (12, 120, 240, 480), 1.0: (24, 240, 480, 960), 1.5: (24, 360, 720, 1440), 2.0: (48, 480, 960, 1920)},
    8: {0.5: (16, 192, 384, 768), 1.0: (24, 384, 768, 1536), 1.5: (24, 576, 1152, 2304), 2.0: (48, 768, 1536, 3072)},
}
PAPER_STAGE2 = {1: 144, 2: 200, 3: 240, 4: 272, 8: 384}  # paper Table 1, 1x
STEM = {0.5: 12, 1.0: 24, 1.5: 24, 2.0: 48}  # the official per-scale stems (g3)
MIN_RESOLUTION = 32
OFFICIAL_SOURCE = "megvii-model/ShuffleNet-Series ShuffleNetV1/network.py"
DERIVED_SOURCE = (
    "derived (not official): paper Table 1 channels x scale, rounded to 4*groups, "
    "counted with megvii-model/ShuffleNet-Series ShuffleNetV1/blocks.py"
)


def stage_channels(groups, scale):
    """``(stem, stage 2, stage 3, stage 4)`` widths; see the module docstring."""
    if groups in OFFICIAL:
        return OFFICIAL[groups][scale]
    divisor = 4 * groups
    stage2 = int(PAPER_STAGE2[groups] * scale + divisor / 2) // divisor * divisor
    return (STEM[scale], stage2, 2 * stage2, 4 * stage2)


@model_builder
def ShuffleNetV1(options, groups=3, scale=1.0, dropout_rate=0.0):
    """ShuffleNetV1 with ``groups`` in 1, 2, 3, 4, 8 and ``scale`` in 0.5, 1.0, 1.5, 2.0.

    Groups 3 and 8 are the official models; 1, 2 and 4 follow the paper's
    Table 1 (see the module docstring). Any resolution >= 32 builds. Inputs
    follow the package convention (see ``keras_mobile.builder``).
    """
    groups = check_choice("groups", groups, GROUPS)
    scale = float(check_choice("scale", scale, SCALES))
    stem_width, *stage_widths = stage_channels(groups, scale)
    model_input, x = options.inputs(MIN_RESOLUTION, normalization=NORMALIZATION)
    features = FeatureMaps()
    x = features.add(conv_bn_act(x, stem_width, 3, 2, act="relu", style=TORCH_STYLE, name="stem"), 2)
    x = features.add(pool_3x3_s2(x, "max", TORCH_STYLE, name="stem_pool"), 2)
    for stage, (repeats, filters) in enumerate(zip(REPEATS, stage_widths), start=1):
        for index in range(repeats):
            strides = 2 if index == 0 else 1
            x = shufflenet_v1_unit(
                x, filters, groups, strides, first_group=stage == 1 and index == 0, style=TORCH_STYLE,
                name=f"stage{stage}_block{index + 1}",
            )
            features.add(x, strides)

    def top(x, classes):
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        if dropout_rate:
            x = layers.Dropout(dropout_rate, name="dropout")(x)
        return layers.Dense(classes, use_bias=False, name="logits")(x)

    return options.finish(model_input, x, features, top, f"shufflenet_v1_g{groups}_{scale:.2f}")


# (trainable params, Mult-Adds at 224 px) of the megvii code on each table, counted by running it.
_REFERENCE_COUNTS = {
    (1, 0.5): (533484, 38517408),
    (1, 1.0): (1530936, 143078976),
    (1, 1.5): (2992032, 308096352),
    (1, 2.0): (4917744, 550334592),
    (2, 0.5): (677520, 40906464),
    (2, 1.0): (1732848, 140836512),
    (2, 1.5): (3341000, 308992448),
    (2, 2.0): (5256896, 539138624),
    (3, 0.5): (717324, 37589856),
    (3, 1.0): (1864728, 137460672),
    (3, 1.5): (3441168, 292443552),
    (3, 2.0): (5449776, 524045184),
    (4, 0.5): (834984, 40710528),
    (4, 1.0): (1967344, 134339776),
    (4, 1.5): (3678712, 295086976),
    (4, 2.0): (5592528, 510289536),
    (8, 0.5): (1010448, 40469760),
    (8, 1.0): (2433768, 138365952),
    (8, 1.5): (4268952, 290188800),
    (8, 2.0): (6521232, 521942016),
}


def _variant(groups, scale):
    return f"shufflenet_v1_g{groups}_{int(round(scale * 100)):03d}"


register_variants(
    "shufflenet_v1",
    ShuffleNetV1,
    {_variant(g, s): {"groups": g, "scale": s} for g in GROUPS for s in SCALES},
    normalization=NORMALIZATION,
    width_arg="scale",
    min_resolution=MIN_RESOLUTION,
    references={
        _variant(g, s): counts + (OFFICIAL_SOURCE if g in OFFICIAL else DERIVED_SOURCE,)
        for (g, s), counts in _REFERENCE_COUNTS.items()
    },
)
