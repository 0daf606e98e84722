"""MobileNeXt (Zhou et al. 2020, "Rethinking Bottleneck Structure for Efficient
Mobile Network Design", Table 1) built from sandglass blocks.

Reference: yitu-opensource/MobileNeXt ``mobilenext/codebase/models/mnext.py``
(commit 94ac67d), ``MXNet(width_mult)`` with ``SGBlock``:

- widths ``make_divisible(c * alpha, 8)`` (divisor 4 at alpha 0.1), except the
  last stage, which stays 1280 for alpha < 1; stem ``make_divisible(32 * alpha, 8)``;
- ``t`` in the table is a *reduction*: hidden width ``in // t``, raised to
  ``make_divisible(ceil(out / 6), 16)`` when below ``out / 6``;
- the first block of a stage takes one of the official code's four shapes
  (see ``block_layout``); only repeated equal-width blocks carry a residual;
- no final 1x1 conv: pool -> dropout 0.2 -> dense; ReLU6; PyTorch padding and
  BN (eps 1e-5).

``identity_tensor_multiplier`` (paper Sec. 3.3) adds each residual to only the
first ``round(C * m)`` channels (the rest pass through as the block output);
the paper's suggested value is 0.5. It changes neither parameters nor
Mult-Adds. The official code hard-codes the full residual (m = 1.0, the
default here), so only the default reproduces the official network.

| variant | params | Mult-Adds (224) |
|---|---|---|
| mobilenext_035 | 1,913,976 | 75.1M |
| mobilenext_050 | 2,152,304 | 103.3M |
| mobilenext_075 | 2,766,168 | 207.9M |
| mobilenext_100 | 3,535,416 | 311.3M |
| mobilenext_140 | 6,126,168 | 588.3M |
"""

import dataclasses
import math

from keras_mobile.blocks.conv import TORCH_STYLE, conv_bn_act
from keras_mobile.blocks.sandglass import identity_channels, sandglass
from keras_mobile.builder import FeatureMaps, assemble, check_width, model_inputs, pooled_dense_top
from keras_mobile.channels import make_divisible
from keras_mobile.registry import register_variants


@dataclasses.dataclass(frozen=True)
class SandglassStage:
    """One row of Table 1: ``repeats`` sandglass blocks to ``filters`` channels.

    reduction: the table's ``t`` (hidden width = input width // reduction);
    stride: of the first block.
    """

    reduction: int
    filters: int
    repeats: int
    stride: int

    def __post_init__(self):
        for field in ("reduction", "filters", "repeats"):
            value = getattr(self, field)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"SandglassStage.{field} must be a positive int; got {value!r} in {self}.")
        if self.stride not in (1, 2):
            raise ValueError(f"SandglassStage.stride must be 1 or 2; got {self.stride!r} in {self}.")


# Table 1 as in the official mnext.py ``cfgs`` (t, c, n, s).
TABLE = (
    SandglassStage(reduction=2, filters=96, repeats=1, stride=2),
    SandglassStage(reduction=6, filters=144, repeats=1, stride=1),
    SandglassStage(reduction=6, filters=192, repeats=3, stride=2),
    SandglassStage(reduction=6, filters=288, repeats=3, stride=2),
    SandglassStage(reduction=6, filters=384, repeats=4, stride=1),
    SandglassStage(reduction=6, filters=576, repeats=4, stride=2),
    SandglassStage(reduction=6, filters=960, repeats=3, stride=1),
    SandglassStage(reduction=6, filters=1280, repeats=1, stride=1),
)
ALPHAS = (0.35, 0.5, 0.75, 1.0, 1.4)
SOURCE = "yitu-opensource/MobileNeXt mobilenext/codebase/models/mnext.py @94ac67d (MXNet), counted at 224 px"


def block_layout(in_channels, filters, strides, reduction, keep_3x3):
    """The official ``SGBlock`` branch for one block, as ``sandglass`` keyword arguments.

    keep_3x3 is True for the first block of a single-block stride-1 stage.
    """
    hidden = in_channels // reduction
    if hidden < filters / 6.0:
        hidden = make_divisible(math.ceil(filters / 6.0), 16)
    layout = dict(reduced_channels=hidden, strides=strides)
    if reduction == 2:
        layout.update(leading_depthwise=True, trailing_depthwise=True, residual=False)
    elif in_channels != filters and strides == 1 and not keep_3x3:
        layout.update(leading_depthwise=False, trailing_depthwise=False, residual=False)
    elif in_channels != filters and strides == 2 and not keep_3x3:
        layout.update(leading_depthwise=False, trailing_depthwise=True, residual=False)
    else:  # the full sandglass; the official code ignores the stride here (always 1)
        layout.update(leading_depthwise=True, trailing_depthwise=True, residual=not keep_3x3, strides=1)
    return layout


def block_plan(alpha):
    """``(stem width, [sandglass keyword arguments per block])`` of ``MXNet(width_mult=alpha)``."""
    divisor = 4 if alpha == 0.1 else 8
    stem_width = make_divisible(32 * alpha, divisor)
    in_channels, plan = stem_width, []
    for stage_index, stage in enumerate(TABLE, start=1):
        filters = make_divisible(stage.filters * alpha, divisor)
        if stage.filters == 1280 and alpha < 1.0:
            filters = 1280
        for block_index in range(stage.repeats):
            first = block_index == 0
            layout = block_layout(
                in_channels,
                filters,
                stage.stride if first else 1,
                stage.reduction,
                keep_3x3=first and stage.repeats == 1 and stage.stride == 1,
            )
            plan.append(dict(filters=filters, name=f"stage{stage_index}_block{block_index + 1}", **layout))
            in_channels = filters
    return stem_width, plan


def MobileNeXt(
    input_shape=None,
    alpha=1.0,
    identity_tensor_multiplier=1.0,
    include_top=True,
    weights=None,
    input_tensor=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    dropout_rate=0.2,
    include_preprocessing=True,
    features_only=False,
    name=None,
):
    """MobileNeXt; paper widths ``alpha`` 0.35, 0.5, 0.75, 1.0, 1.4 (any in (0, 4] builds).

    identity_tensor_multiplier: fraction in (0, 1] of each residual's channels
        that receive the shortcut (paper Sec. 3.3, e.g. 0.5); 1.0 (default) is
        the official full residual. Parameters and Mult-Adds do not change.
    """
    alpha = check_width("alpha", alpha)
    identity_tensor_multiplier = check_width("identity_tensor_multiplier", identity_tensor_multiplier, 0.0, 1.0)
    stem_width, plan = block_plan(alpha)
    for block in plan:  # every residual must add at least one channel
        if block["residual"]:
            identity_channels(block["filters"], identity_tensor_multiplier)
    model_input, x = model_inputs(input_shape, input_tensor, 32, include_preprocessing)
    features = FeatureMaps()
    x = features.add(conv_bn_act(x, stem_width, 3, 2, act="relu6", style=TORCH_STYLE, name="stem"), 2)
    for block in plan:
        x = sandglass(x, identity_multiplier=identity_tensor_multiplier, act="relu6", style=TORCH_STYLE, **block)
        features.add(x, block["strides"])
    suffix = "" if identity_tensor_multiplier == 1.0 else f"_itm{identity_tensor_multiplier:.2f}"
    return assemble(
        model_input, x, features, top=pooled_dense_top(dropout_rate), include_top=include_top, pooling=pooling,
        classes=classes, classifier_activation=classifier_activation, features_only=features_only,
        weights=weights, name=name or f"mobilenext_{alpha:.2f}{suffix}",
    )


register_variants(
    "mobilenext",
    MobileNeXt,
    {f"mobilenext_{int(round(a * 100)):03d}": {"alpha": a} for a in ALPHAS},
    references={
        "mobilenext_035": (1913976, 75141032, SOURCE),
        "mobilenext_050": (2152304, 103256448, SOURCE),
        "mobilenext_075": (2766168, 207926720, SOURCE),
        "mobilenext_100": (3535416, 311342592, SOURCE),
        "mobilenext_140": (6126168, 588319256, SOURCE),
    },
)
