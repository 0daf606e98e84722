"""Structured channel pruning (keras_mobile.compression.prune_channels): every family, the dependency groups,
the criteria, rounding, the report's figures against the profiler, and argument errors.

The proof that the dependency groups are right: in the original model, zero everything that makes a removed
channel (its filters and biases, gamma and beta of every BatchNormalization it passes); that model then
computes exactly what the pruned model computes, so removing those channels removed nothing else.
"""

import sys

import numpy as np
import pytest
from helpers import REPRESENTATIVES, randomize_weights

from keras_mobile import backend, compression
from keras_mobile.profile import profile_model
from keras_mobile.registry import create_model, list_models, model_info

keras = backend.keras
STOCK = {"InputLayer", "Rescaling", "Conv2D", "DepthwiseConv2D", "SeparableConv2D", "BatchNormalization", "ReLU",
         "Activation", "Add", "Multiply", "Concatenate", "GlobalAveragePooling2D", "MaxPooling2D", "AveragePooling2D",
         "ZeroPadding2D", "Dropout", "Dense", "Flatten", "Reshape", "ChannelSplit", "ChannelShuffle"}
PRODUCERS = ("Conv2D", "SeparableConv2D", "Dense")


# --------------------------------------------------------------------------- helpers
def _images(resolution, count=4, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (count, resolution, resolution, 3)).astype("float32")


def _zero_removed(model, report):
    """Zero what makes each removed channel: filters / units and biases, gamma and beta of its BatchNormalizations."""
    for layer in model.layers:
        if layer.name not in report.kept_channels:
            continue
        kind = type(layer).__name__
        if kind in PRODUCERS or kind == "BatchNormalization":
            width = layer.gamma.shape[0] if kind == "BatchNormalization" else int(layer.kernel.shape[-1] if kind != "SeparableConv2D" else layer.pointwise_kernel.shape[-1])
            gone = np.setdiff1d(np.arange(width), report.kept_channels[layer.name])
            if kind == "BatchNormalization":
                weights = [layer.gamma, layer.beta]
            else:
                weights = [layer.pointwise_kernel if kind == "SeparableConv2D" else layer.kernel, layer.bias]
            for weight in weights:
                if weight is not None:
                    value = np.array(weight)
                    value[..., gone] = 0.0
                    weight.assign(value)


def _check_figures(model, pruned, report):
    """The report's figures are the profiler's, in total and layer by layer."""
    before, after = profile_model(model), profile_model(pruned)
    assert (report.mult_adds_before, report.params_before) == (before.mult_adds, before.trainable_params)
    assert (report.mult_adds_after, report.params_after) == (after.mult_adds, after.trainable_params)
    profiled = {row.name: row for row in after.layers}
    for row in report.layers:
        assert (row.mult_adds_after, row.params_after) == (profiled[row.name].mult_adds,
                                                           profiled[row.name].trainable_params), row
    assert sum(row.mult_adds_after for row in report.layers) == after.mult_adds


def _check_rounding(report, round_to):
    for group in report.groups:
        if group.status == "pruned":
            assert group.channels_after % round_to == 0 and round_to <= group.channels_after < group.channels_before
        else:
            assert group.channels_after == group.channels_before, group


def _layers(model, kind):
    return [layer for layer in model.layers if type(layer).__name__ == kind]


# --------------------------------------------------------------------------- every family
# ShuffleNetV1's grouped 1x1s around a shuffle can only lose 3 x 3 channels at a time (a 3-channel shuffle row in
# each of 3 groups): with round_to=8 that reaches 17.7% at most (max_mac_reduction), so it runs with round_to=1.
ROUND_TO = {"shufflenet_v1": 1}
FAMILIES = [pytest.param(f, marks=pytest.mark.both_lines) if f == "shufflenet_v2" else f for f in sorted(REPRESENTATIVES)]


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_prunes_30_percent_and_matches_the_zeroed_original(family):
    name = REPRESENTATIVES[family]
    resolution = max(model_info(name).min_resolution, 32)
    model = create_model(name, input_shape=(resolution, resolution, 3), classes=10, classifier_activation=None)
    randomize_weights(model, seed=1)
    images = _images(resolution, count=2)
    round_to = ROUND_TO.get(family, 8)
    pruned, report = compression.prune_channels(model, 0.3, round_to=round_to, return_report=True)

    assert 0.3 <= report.mac_reduction < 0.32
    assert report.params_after < report.params_before
    assert [layer.name for layer in pruned.layers] == [layer.name for layer in model.layers]
    assert {type(layer).__name__ for layer in pruned.layers} <= STOCK
    assert pruned.input_shape == model.input_shape and pruned.output_shape == model.output_shape
    _check_figures(model, pruned, report)
    _check_rounding(report, round_to)
    if family == "shufflenet_v2":  # column-wise shuffle: the two halves keep equal widths, groups stay 2
        assert {layer.groups for layer in _layers(pruned, "ChannelShuffle")} == {2}
    if family == "shufflenet_v1":  # row-wise shuffle: fewer rows, grouped convs keep their 3 groups
        before = {layer.name: layer.groups for layer in _layers(model, "ChannelShuffle")}
        after = {layer.name: layer.groups for layer in _layers(pruned, "ChannelShuffle")}
        assert any(after[n] < before[n] for n in before)
        assert all(layer.groups in (1, 3) for layer in _layers(pruned, "Conv2D"))

    expected = np.asarray(pruned(images))
    _zero_removed(model, report)
    actual = np.asarray(model(images))
    scale = max(1.0, float(np.abs(actual).max()))
    assert np.abs(actual - expected).max() <= 1e-5 * scale


@pytest.mark.exhaustive
@pytest.mark.parametrize("name", list_models())
def test_every_variant_prunes_to_its_reachable_target(name):
    resolution = max(model_info(name).min_resolution, 64)
    model = create_model(name, input_shape=(resolution, resolution, 3), classes=10)
    target = min(0.3, compression.max_mac_reduction(model))
    assert target > 0.1, name
    pruned, report = compression.prune_channels(model, target, return_report=True)
    _check_figures(model, pruned, report)
    _check_rounding(report, 8)
    assert pruned(_images(resolution, 1)).shape == (1, 10)


# --------------------------------------------------------------------------- dependency groups on a small graph
def _small_model(seed=0):
    """stem -> [expand -> depthwise -> project] + residual Add -> 1x1 (8) and 3x3 (24) branches -> Concatenate -> Dense."""
    layers = keras.layers
    image = keras.Input((16, 16, 3), name="image")
    x = layers.Conv2D(16, 3, strides=2, padding="same", use_bias=False, name="stem_conv")(image)
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.ReLU(name="stem_act")(x)
    y = layers.Conv2D(32, 1, use_bias=False, name="expand_conv")(x)
    y = layers.BatchNormalization(name="expand_bn")(y)
    y = layers.ReLU(name="expand_act")(y)
    y = layers.DepthwiseConv2D(3, padding="same", use_bias=False, name="dw_conv")(y)
    y = layers.BatchNormalization(name="dw_bn")(y)
    y = layers.ReLU(name="dw_act")(y)
    y = layers.Conv2D(16, 1, use_bias=False, name="project_conv")(y)
    y = layers.BatchNormalization(name="project_bn")(y)
    x = layers.Add(name="add")([x, y])
    left = layers.Conv2D(8, 1, name="left_conv")(x)
    right = layers.Conv2D(24, 3, padding="same", name="right_conv")(x)
    x = layers.Concatenate(name="concat")([left, right])
    x = layers.ReLU(name="concat_act")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    model = keras.Model(image, layers.Dense(10, name="logits")(x), name="small")
    randomize_weights(model, seed=seed)
    return model


def test_groups_follow_add_depthwise_and_concatenate():
    model = _small_model()
    groups = {group.name: group for group in compression.channel_groups(model, round_to=1)}
    assert {"stem_conv", "expand_conv", "left_conv", "right_conv"} <= set(groups)
    # The residual stream: both producers, the Add, and every reader of it.
    assert {"stem_conv", "project_conv", "stem_bn", "project_bn", "add", "left_conv", "right_conv"} <= set(
        groups["stem_conv"].layers)
    assert {"expand_conv", "expand_bn", "dw_conv", "dw_bn", "project_conv"} <= set(groups["expand_conv"].layers)
    assert "stem_conv" not in groups["expand_conv"].layers
    assert {g.status for g in groups.values() if g.name in ("stem_conv", "expand_conv", "left_conv", "right_conv")} == {
        "prunable"}
    fixed = {g.reason for g in groups.values() if g.status == "fixed"}
    assert fixed == {"model input", "model output"}

    pruned, report = compression.prune_channels(model, 0.5, round_to=1, return_report=True)
    stem, project, add = report.kept("stem_conv"), report.kept("project_conv"), report.kept("add")
    assert stem == project == add and len(stem) < 16
    assert report.kept("dw_conv") == report.kept("expand_conv") == report.kept("dw_bn")
    left, right = report.kept("left_conv"), report.kept("right_conv")
    assert report.kept("concat") == left + tuple(8 + c for c in right)
    assert pruned.get_layer("logits").units == 10 and pruned.get_layer("stem_conv").kernel.shape[2] == 3
    _check_figures(model, pruned, report)
    images = _images(16)
    expected = np.asarray(pruned(images))
    _zero_removed(model, report)
    np.testing.assert_allclose(np.asarray(model(images)), expected, atol=1e-5)


def test_rounding_keeps_multiples_of_round_to_and_never_goes_below_it():
    model = _small_model()
    pruned, report = compression.prune_channels(model, 0.3, round_to=16, return_report=True)
    _check_rounding(report, 16)
    groups = {group.name: group for group in report.groups}
    assert groups["expand_conv"].channels_after == 16  # 32 -> 16: the only smaller multiple of 16
    for name in ("stem_conv", "left_conv"):  # 16 and 8 channels: nothing below round_to
        assert groups[name].status == "fixed" and "round_to=16 keeps at least 16" in groups[name].reason
    assert pruned.get_layer("left_conv").filters == 8 and pruned.get_layer("stem_conv").filters == 16
    assert compression.max_mac_reduction(model, round_to=16) < compression.max_mac_reduction(model, round_to=1)


def test_skip_layers_are_left_exactly_as_they_are():
    model = _small_model()
    pruned, report = compression.prune_channels(model, 0.2, round_to=1, skip_layers=["expand_conv"],
                                                return_report=True)
    for name in ("expand_conv", "dw_conv", "project_conv", "stem_conv"):
        np.testing.assert_array_equal(np.asarray(pruned.get_layer(name).weights[0]),
                                      np.asarray(model.get_layer(name).weights[0]))
    assert {g.reason for g in report.groups if g.name == "expand_conv"} == {"in skip_layers"}
    assert report.kept_channels  # something else was pruned


# --------------------------------------------------------------------------- criteria
def _weak_channels(model, criterion):
    """Make channels 0..15 of the expansion the least important by ``criterion``; return them."""
    weak = np.arange(16)
    if criterion == "l1":
        kernel = np.array(model.get_layer("expand_conv").kernel)
        kernel[..., weak] *= 1e-3
        model.get_layer("expand_conv").kernel.assign(kernel)
    elif criterion == "bn_gamma":
        for name in ("expand_bn", "dw_bn"):
            gamma = model.get_layer(name).gamma
            value = np.abs(np.array(gamma)) + 1.0
            value[weak] = 1e-3
            gamma.assign(value)
    else:  # taylor: nothing reads them (zero input slices of the projection), so removing them changes no loss
        for layer in _layers(model, "BatchNormalization"):
            layer.gamma.assign(np.abs(np.array(layer.gamma)) + 0.5)
            layer.beta.assign(np.full(layer.beta.shape, 0.5, "float32"))
        kernel = np.array(model.get_layer("project_conv").kernel)
        kernel[:, :, weak, :] = 0.0
        model.get_layer("project_conv").kernel.assign(kernel)
    return set(weak.tolist())


@pytest.mark.parametrize("criterion", [
    "l1", "bn_gamma", pytest.param("taylor", marks=pytest.mark.both_lines)])
def test_each_criterion_removes_the_channels_it_ranks_lowest(criterion):
    model = _small_model(seed=2)
    weak = _weak_channels(model, criterion)
    images = _images(16, count=8)
    # only 'taylor' reads data (the others refuse it)
    data = [(images[:4], np.arange(4)), (images[4:], np.arange(4, 8))] if criterion == "taylor" else None
    report = compression.prune_channels(model, 0.05, criterion=criterion, round_to=1, data=data,
                                        return_report=True)[1]
    removed = set(range(32)) - set(report.kept("expand_conv"))
    assert removed and removed <= weak
    # The same target removes the weak channels first, whatever else it takes.
    report = compression.prune_channels(model, 0.3, criterion=criterion, round_to=1, data=data, return_report=True)[1]
    assert weak <= set(range(32)) - set(report.kept("expand_conv"))


def test_bn_gamma_falls_back_to_l1_where_no_batchnorm_and_importing_needs_no_tfmot():
    before = "tensorflow_model_optimization" in sys.modules
    model = _small_model()
    report = compression.prune_channels(model, 0.2, criterion="bn_gamma", round_to=1, return_report=True)[1]
    reasons = {group.name: group.reason for group in report.groups}
    assert reasons["expand_conv"] == "bn_gamma" and reasons["left_conv"] == "l1 (no BatchNormalization)"
    assert before or "tensorflow_model_optimization" not in sys.modules
    text = report.format()
    assert "channel pruning of small" in text and "expand_conv" in text and "Mult-Adds" in text
    assert report.to_dict()["mult_adds_after"] == report.mult_adds_after


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize("kwargs, match", [
    ({"mac_reduction": 0.0}, r"mac_reduction=0.0 is not supported; accepted values: a number in \(0.0, 1.0\)"),
    ({"mac_reduction": 1.0}, r"mac_reduction=1.0 is not supported; accepted values: a number in \(0.0, 1.0\)"),
    ({"mac_reduction": True}, r"mac_reduction=True is not supported"),
    ({"mac_reduction": 0.99}, r"mac_reduction=0.99 is not supported; accepted values: a number in \(0, 0\.\d+\] for "
                              r"model 'small' with round_to=8 \(the most its prunable channel groups can remove"),
    ({"criterion": "l2"}, r"criterion='l2' is not supported; accepted values: \['l1', 'bn_gamma', 'taylor'\]"),
    ({"criterion": "taylor"}, r"data=None is not supported; accepted values: an iterable of \(images, labels\) "
                              r"batches with criterion='taylor'"),
    ({"criterion": "taylor", "data": [(np.zeros((1, 16, 16, 3)),)]}, r"data='a batch of tuple' is not supported"),
    ({"round_to": 0}, r"round_to=0 is not supported; accepted values: an integer >= 1"),
    ({"skip_layers": ["nope", "add"]}, r"skip_layers=\['nope', 'add'\] is not supported; accepted values: names of "
                                       r"layers of model 'small' \(unknown: \['nope'\]\)"),
    ({"skip_layers": "add"}, r"skip_layers='add' is not supported; accepted values: a list of layer names"),
])
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        compression.prune_channels(_small_model(), **kwargs)


def test_a_model_that_is_no_functional_model_gets_a_type_error():
    with pytest.raises(TypeError, match="prune_channels: model must be a functional"):
        compression.prune_channels(object())


def test_a_model_of_any_resolution_is_refused_before_anything_is_counted():
    model = create_model("mobilenetv2_035", classes=10)  # input_shape (None, None, 3)
    with pytest.raises(ValueError, match=r"model='mobilenetv2_0.35 with input shape \(None, None, None, 3\)' is not "
                                         r"supported; accepted values: a model built at a fixed resolution"):
        compression.prune_channels(model)
    assert compression.channel_groups(model)  # the groups do not depend on the resolution
