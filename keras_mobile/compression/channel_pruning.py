"""Structured channel pruning: a narrower, dense model of stock layers that every runtime runs faster.

    from keras_mobile import compression
    pruned, report = compression.prune_channels(model, mac_reduction=0.3, criterion="l1", return_report=True)
    print(report.format())                       # per group and per layer: channels, Mult-Adds, params
    compression.channel_groups(model)            # what can be pruned, and why the rest cannot

Works on Keras 3 and on tf_keras without TF-MOT, for any functional model of stock layers and the
package's ``ChannelSplit`` / ``ChannelShuffle``. The returned model is a new functional model with the
same layer names, built from the layers' configs with fewer filters / units, holding the surviving
weights of ``model`` (BatchNormalization keeps its moving statistics); ``model`` is not changed.

How: ``channel_graph.ChannelGraph`` finds which channels must go together (residual adds, SE gates,
depthwise convs, concatenations, splits, shuffles, grouped convs) and which cannot go (the model's
input and output channels, layers it cannot see through, ``skip_layers``). Each segment's channels are
ranked by the criterion (``channel_importance``); a global threshold then removes the least important
channels everywhere, with every segment's count kept as it is or rounded to a multiple of ``round_to``
(never below ``round_to``), and is raised until at least ``mac_reduction`` of the Mult-Adds are gone;
where the last rounding step overshoots, removed channels as important as those it removed are given
back as long as the target holds.
Mult-Adds are counted as ``keras_mobile.profile`` counts them; the pruned model is checked against the
planned figures layer by layer.
"""

import bisect
import dataclasses
import heapq
import math

import numpy as np

from keras_mobile.backend import keras
from keras_mobile.compression import channel_importance
from keras_mobile.compression.channel_graph import (
    COUNTED,
    ChannelGraph,
    layer_mult_adds,
    weight_role,
    weight_shapes,
)
from keras_mobile.compression.channel_importance import CRITERIA, GLOBAL_CRITERIA
from keras_mobile.compression.channel_report import ChannelGroup, ChannelPruningReport, LayerChange
from keras_mobile.graph import check_functional, flatten, map_structure, model_structures, tensor_key
from keras_mobile.profile import profile_model
from keras_mobile.validation import check_bool, check_choice, check_int, check_number, fail


def prune_channels(model, mac_reduction=0.3, criterion="l1", round_to=8, skip_layers=(), data=None, data_batches=8,
                   return_report=False):
    """Remove whole channels from ``model`` until at least ``mac_reduction`` of its Mult-Adds are gone.

    model: a functional model of this process's Keras line (what keras_mobile's builders return),
        built at a fixed input resolution (Mult-Adds depend on it).
    mac_reduction: the fraction of Mult-Adds to remove, in (0, 1); the result removes at least that
        (a little more where rounding says so). A ValueError names the most this model can reach.
    criterion: which channels go first: ``"l1"`` (filter norms), ``"bn_gamma"`` (|gamma| of the
        BatchNormalizations, network slimming) or ``"taylor"`` (first-order loss change on ``data``);
        see ``keras_mobile.compression.channel_importance``.
    round_to: every pruned channel group keeps a multiple of this many channels, at least ``round_to``
        (groups with fewer channels are not pruned); 1 turns rounding off.
    skip_layers: names of layers to leave exactly as they are (their input and output channels are fixed).
    data: for ``taylor``: an iterable of ``(images, labels)`` batches (integer or one-hot labels), e.g.
        a ``tf.data.Dataset``; at most ``data_batches`` batches are read.
    return_report: also return the ``ChannelPruningReport``.

    Returns the pruned model, or ``(pruned model, report)`` with ``return_report``.
    """
    check_functional(model, "prune_channels")
    _check_fixed_resolution(model)
    mac_reduction = check_number("mac_reduction", mac_reduction, 0.0, 1.0, low_open=True, high_open=True)
    criterion = check_choice("criterion", criterion, CRITERIA)
    round_to = check_int("round_to", round_to, minimum=1)
    data_batches = check_int("data_batches", data_batches, minimum=1)
    skip_layers = _check_skip_layers(model, skip_layers)
    check_bool("return_report", return_report)
    if criterion == "taylor" and data is None:
        fail("data", None, "an iterable of (images, labels) batches with criterion='taylor' (it ranks channels by "
                           "the loss change they cause on that data)")
    if criterion != "taylor" and data is not None:
        fail("data", type(data).__name__, f"None with criterion={criterion!r} (only 'taylor' reads data)")
    graph = ChannelGraph(model, skip_layers)
    scores, used = _scores(graph, criterion, data, data_batches)
    plan = _plan(graph, scores, used, mac_reduction, round_to, criterion)
    pruned = _rebuild(graph, plan.keep)
    report = _report(graph, plan, pruned, criterion, mac_reduction, round_to)
    return (pruned, report) if return_report else pruned


def channel_groups(model, round_to=8, skip_layers=()):
    """The channel groups of ``model``: what ``prune_channels`` could prune (``status="prunable"``) and the
    fixed channels with the reason (``status="fixed"``), as ``ChannelGroup`` rows (channels before = after).

    round_to: groups that no multiple of ``round_to`` can shrink are reported fixed.
    """
    check_functional(model, "channel_groups")
    round_to = check_int("round_to", round_to, minimum=1)
    graph = ChannelGraph(model, _check_skip_layers(model, skip_layers))
    rows = []
    for segment in graph.segments:
        units = _units(graph, segment, np.zeros(graph.num_classes))
        allowed = _allowed_prefixes(segment, units, round_to)
        status, reason = ("prunable", "") if len(allowed) > 1 else ("fixed", _rounding_reason(segment, round_to))
        rows.append(ChannelGroup(segment.name, segment.layers, segment.channels, segment.channels, status, reason))
    rows += _fixed_rows(graph)
    return tuple(rows)


def _check_fixed_resolution(model):
    for tensor in model.inputs:
        if any(d is None for d in tuple(tensor.shape)[1:]):
            fail("model", f"{model.name} with input shape {tuple(tensor.shape)}",
                 "a model built at a fixed resolution, e.g. input_shape=(224, 224, 3) (Mult-Adds depend on it)")


def _check_skip_layers(model, skip_layers):
    if isinstance(skip_layers, str) or not isinstance(skip_layers, (list, tuple, set, frozenset)):
        fail("skip_layers", skip_layers, "a list of layer names")
    names = {layer.name for layer in model.layers}
    unknown = sorted(str(name) for name in skip_layers if name not in names)
    if unknown:
        fail("skip_layers", list(skip_layers), f"names of layers of model '{model.name}' (unknown: {unknown})")
    return tuple(skip_layers)


# --------------------------------------------------------------------------- scores
def _scores(graph, criterion, data, data_batches):
    """Per-class scores and, per segment, the criterion actually used (bn_gamma falls back to l1)."""
    used = [criterion] * len(graph.segments)
    if criterion == "taylor":
        return channel_importance.taylor_scores(graph, data, data_batches), used
    l1 = channel_importance.l1_scores(graph)
    if criterion == "l1":
        return l1, used
    gamma = channel_importance.bn_gamma_scores(graph)
    free = np.array([reason is None for reason in graph.fixed_reason])
    if not np.any(free & ~np.isnan(gamma)):
        fail("criterion", criterion, f"'l1' or 'taylor' for model '{graph.model.name}', whose prunable channels pass "
                                     "no BatchNormalization")
    scale = np.nanmean(gamma[free])
    scores = gamma.copy()
    for index, segment in enumerate(graph.segments):
        if np.any(np.isnan(gamma[segment.classes])):
            values = l1[segment.classes]
            scores[segment.classes] = values / max(np.mean(values), 1e-12) * scale
            used[index] = "l1 (no BatchNormalization)"
    return scores, used


# --------------------------------------------------------------------------- plan
def _units(graph, segment, scores):
    """The segment's removal order: ``[(classes, score)]``, least important first.

    A free segment removes one class at a time; a grouped one a round of one class per cell. A unit
    that would leave some tensor without channels is skipped (free) or ends the order (rounds).
    """
    table = graph.class_tensors()
    remaining = {}
    for cls in segment.classes.tolist():
        for key, _ in table[cls]:
            remaining[key] = len(graph.tensor_classes[key])

    def take(classes):
        need = {}
        for cls in classes:
            for key, count in table[cls]:
                need[key] = need.get(key, 0) + count
        if any(remaining[key] - count < 1 for key, count in need.items()):
            return False
        for key, count in need.items():
            remaining[key] -= count
        return True

    units = []
    if segment.cells is None:
        for cls in sorted(segment.classes.tolist(), key=lambda c: (scores[c], c)):
            if take([cls]):
                units.append(([cls], float(scores[cls])))
        return units
    cells = [sorted(cell.tolist(), key=lambda c: (scores[c], c)) for cell in segment.cells]
    for round_index in range(min(len(cell) for cell in cells)):
        members = [cell[round_index] for cell in cells]
        if not take(members):
            break
        units.append((members, float(np.mean([scores[c] for c in members]))))
    return units


def _count_allowed(segment, kept, round_to):
    """True if ``kept`` classes of the segment satisfy ``round_to`` in every producer's output."""
    if kept == len(segment.classes):
        return True
    channels = [width * kept for width in segment.widths.values()]
    return kept >= 1 and all(c % round_to == 0 and c >= round_to for c in channels)


def _allowed_prefixes(segment, units, round_to):
    """Unit-prefix lengths whose kept count is allowed (0 always is)."""
    allowed, removed, total = [0], 0, len(segment.classes)
    for index, (classes, _) in enumerate(units, start=1):
        removed += len(classes)
        if _count_allowed(segment, total - removed, round_to):
            allowed.append(index)
    return allowed


def _rounding_reason(segment, round_to):
    widths = sorted(set(segment.widths.values()))
    if min(widths) * len(segment.classes) <= round_to:
        return f"{segment.channels} channels: round_to={round_to} keeps at least {round_to}"
    rounds = len(segment.cells) if segment.cells is not None else 1
    step = f"steps of {rounds} x {'/'.join(map(str, widths))} channels"
    return f"no smaller multiple of round_to={round_to} is reachable in {step}"


class _Planner:
    """Every segment's removal order and allowed sizes, and the global order that trades them off.

    The global order sorts every segment's units by score (ties: the segment's least-pruned first); a
    prefix of it, each segment's share rounded down to an allowed size, is a plan. Longer prefixes
    remove more Mult-Adds, so the shortest prefix that reaches the target is found by bisection.
    """

    def __init__(self, graph, scores, round_to, normalize):
        self.graph, self.round_to = graph, round_to
        if normalize:  # l1: rank within a segment, compare segments by relative importance
            scores = scores.copy()
            for segment in graph.segments:
                scores[segment.classes] /= max(float(np.mean(scores[segment.classes])), 1e-12)
        self.units = [_units(graph, segment, scores) for segment in graph.segments]
        self.allowed = [_allowed_prefixes(seg, units, round_to) for seg, units in zip(graph.segments, self.units)]
        self.order = sorted(
            (score, position / len(units), index)
            for index, units in enumerate(self.units)
            for position, (_, score) in enumerate(units, start=1)
        )
        self.mult_adds_before = self.mult_adds(graph.keep_all())

    def prefixes(self, length):
        """Units each segment removes under the first ``length`` entries of the global order."""
        taken = [0] * len(self.units)
        for _, _, index in self.order[:length]:
            taken[index] += 1
        return [allowed[bisect.bisect_right(allowed, count) - 1] for allowed, count in zip(self.allowed, taken)]

    def keep(self, prefixes):
        keep = self.graph.keep_all()
        for units, prefix in zip(self.units, prefixes):
            for classes, _ in units[:prefix]:
                keep[classes] = False
        return keep

    def mult_adds(self, keep):
        counts = self.graph.counts(keep)
        return sum(layer_mult_adds(node, self.graph.shapes, counts) for node in self.graph.nodes if node.kind in COUNTED)

    def reduction(self, length):
        return self.reduction_of(self.prefixes(length))

    def reduction_of(self, prefixes):
        return 1.0 - self.mult_adds(self.keep(prefixes)) / self.mult_adds_before

    def most(self):
        return self.reduction(len(self.order))

    def tighten(self, length, target):
        """The plan of the first ``length`` units, with removed units given back while ``target`` holds.

        The unit that completes the prefix can make its segment jump by a whole rounding step
        (ShuffleNetV2's 24-channel stem loses 8 channels at once, 8% of its Mult-Adds), overshooting
        the target. Removed units at least as important as the least important one that jump removed
        are given back, the most important first, each only if the target still holds; less important
        units stay removed, so the criterion's ranking is kept outside that band.
        """
        before, prefixes = self.prefixes(length - 1) if length else None, self.prefixes(length)
        if before is None:
            return prefixes
        jumped = [self.units[i][before[i]:prefixes[i]] for i in range(len(prefixes)) if prefixes[i] > before[i]]
        floor = min(score for units in jumped for _, score in units)

        def last_score(index):
            return self.units[index][prefixes[index] - 1][1]

        candidates = [(-last_score(i), i) for i, prefix in enumerate(prefixes) if prefix > 0]
        heapq.heapify(candidates)
        while candidates:
            negative, index = heapq.heappop(candidates)
            if -negative < floor:
                break
            allowed = self.allowed[index]
            trial = list(prefixes)
            trial[index] = allowed[allowed.index(prefixes[index]) - 1]
            if self.reduction_of(trial) >= target:
                prefixes = trial
                if prefixes[index] > 0:
                    heapq.heappush(candidates, (-last_score(index), index))
        return prefixes

    def shortest(self, target):
        """The shortest prefix length that removes at least ``target`` of the Mult-Adds."""
        low, high = 0, len(self.order)
        while low < high:
            middle = (low + high) // 2
            if self.reduction(middle) >= target:
                high = middle
            else:
                low = middle + 1
        return low


def max_mac_reduction(model, round_to=8, skip_layers=()):
    """The largest ``mac_reduction`` ``prune_channels`` can reach on ``model`` with these arguments
    (every prunable group at its smallest allowed size). Cheap: no model is built; use it to check a
    target before training."""
    check_functional(model, "max_mac_reduction")
    _check_fixed_resolution(model)
    round_to = check_int("round_to", round_to, minimum=1)
    graph = ChannelGraph(model, _check_skip_layers(model, skip_layers))
    return _Planner(graph, np.zeros(graph.num_classes), round_to, normalize=False).most()


@dataclasses.dataclass
class _Plan:
    keep: np.ndarray
    prefixes: list  # units removed per segment
    planner: _Planner
    used: list
    mult_adds_after: int


def _plan(graph, scores, used, mac_reduction, round_to, criterion):
    planner = _Planner(graph, scores, round_to, normalize=criterion not in GLOBAL_CRITERIA)
    most = planner.most()
    if most < mac_reduction:
        fixed = sorted({reason for reason in graph.fixed_reason if reason is not None})
        fail("mac_reduction", mac_reduction,
             f"a number in (0, {math.floor(most * 1e4) / 1e4}] for model '{graph.model.name}' with "
             f"round_to={round_to} (the most its prunable channel groups can remove; a smaller round_to may reach "
             f"more; fixed channels: {'; '.join(fixed[:4])}{'; ...' if len(fixed) > 4 else ''})")
    prefixes = planner.tighten(planner.shortest(mac_reduction), mac_reduction)
    keep = planner.keep(prefixes)
    empty = [key for key, count in graph.counts(keep).items() if count == 0]
    if empty:
        raise RuntimeError(f"prune_channels: the plan leaves tensor(s) {empty[:3]} without channels (a bug).")
    return _Plan(keep, prefixes, planner, used, planner.mult_adds(keep))


# --------------------------------------------------------------------------- rebuild
def _rebuild(graph, keep):
    """A new functional model of ``graph.model``'s layers with only the channels of classes ``keep``,
    holding the surviving weights."""
    counts = graph.counts(keep)
    tensors = {}
    for node in graph.nodes:
        layer = node.layer
        if node.kind == "InputLayer":
            shape = graph.shapes[node.outputs[0]]
            dtype = getattr(layer.output.dtype, "name", layer.output.dtype)
            tensors[node.outputs[0]] = keras.Input(shape=shape[1:], batch_size=shape[0], name=layer.name, dtype=dtype)
            continue
        config = _new_config(graph, node, keep, counts)
        new_layer = type(layer).from_config(config)
        args, kwargs = map_structure(
            lambda value: tensors[tensor_key(value)] if hasattr(value, "_keras_history") else value,
            (list(node.call_args), dict(node.call_kwargs)),
        )
        outputs = flatten(new_layer(*args, **kwargs))
        for key, tensor in zip(node.outputs, outputs):
            tensors[key] = tensor
        _copy_weights(graph, node, new_layer, keep)
    inputs, outputs = model_structures(graph.model)
    new_inputs = map_structure(lambda t: tensors[tensor_key(t)], inputs)
    new_outputs = map_structure(lambda t: tensors[tensor_key(t)], outputs)
    return keras.Model(new_inputs, new_outputs, name=graph.model.name)


def _new_config(graph, node, keep, counts):
    config = node.layer.get_config()
    kind = node.kind
    if kind in ("Conv2D", "SeparableConv2D"):
        config["filters"] = counts[node.outputs[0]]
    elif kind == "Dense":
        config["units"] = counts[node.outputs[0]]
    elif kind == "ChannelSplit":
        config["sizes"] = [counts[key] for key in node.outputs]
    elif kind == "ChannelShuffle":
        config["groups"] = _shuffle_groups(graph, node, keep)
    return config


def _shuffle_groups(graph, node, keep):
    """The groups of the smaller shuffle: the blocks that keep channels, each keeping the same columns."""
    groups = int(node.layer.get_config()["groups"])
    kept = keep[graph.tensor_classes[node.inputs[0]]].reshape(groups, -1)
    rows = [row for row in kept if row.any()]
    if any(not np.array_equal(row, rows[0]) for row in rows):
        raise RuntimeError(f"prune_channels: {node.name} would keep a pattern that is no channel shuffle (a bug).")
    return len(rows)


def _copy_weights(graph, node, new_layer, keep):
    layer, kind = node.layer, node.kind
    if kind not in COUNTED and kind != "BatchNormalization":
        if layer.weights:
            new_layer.set_weights(layer.get_weights())
        return
    inputs = graph.kept_indices(node.inputs[0], keep)
    outputs = graph.kept_indices(node.outputs[0], keep)
    for weight, new_weight in zip(layer.weights, new_layer.weights):
        value = channel_importance.numpy(weight).astype(_dtype(weight))
        role = weight_role(layer, weight)
        if role == "kernel" and kind == "Conv2D":
            value = _grouped_kernel(value, layer.groups, inputs, outputs, graph.shapes[node.inputs[0]][-1])
        elif role == "kernel":  # Dense
            value = value[inputs][:, outputs]
        elif role == "depthwise_kernel":
            value = value[:, :, inputs, :]
        elif role == "pointwise_kernel":
            multiplier = layer.depth_multiplier
            rows = (inputs[:, None] * multiplier + np.arange(multiplier)).reshape(-1)
            value = value[:, :, rows, :][..., outputs]
        elif role == "bias":
            value = value[inputs] if kind == "DepthwiseConv2D" else value[outputs]
        elif role == "per_channel":
            value = value[inputs]
        new_weight.assign(value)


def _dtype(weight):
    dtype = getattr(weight, "dtype", "float32")
    return getattr(dtype, "name", dtype)


def _grouped_kernel(kernel, groups, inputs, outputs, in_channels):
    """Slice a (kh, kw, in / groups, out) kernel group by group."""
    if groups == 1:
        return kernel[:, :, inputs, :][..., outputs]
    in_size, out_size = in_channels // groups, kernel.shape[-1] // groups
    parts = []
    for group in range(groups):
        ins = inputs[(inputs >= group * in_size) & (inputs < (group + 1) * in_size)] - group * in_size
        outs = outputs[(outputs >= group * out_size) & (outputs < (group + 1) * out_size)]
        parts.append(kernel[:, :, ins, :][..., outs])
    if len({part.shape[2] for part in parts}) != 1:
        raise RuntimeError("prune_channels: a grouped conv would keep unequal groups (a bug).")
    return np.concatenate(parts, axis=-1)


# --------------------------------------------------------------------------- report
def _fixed_rows(graph):
    rows = []
    for reason, maker, channels in graph.fixed_groups():
        rows.append(ChannelGroup(maker, (maker,), channels, channels, "fixed", reason))
    return rows


def _report(graph, plan, pruned, criterion, mac_reduction, round_to):
    before, after = profile_model(graph.model), profile_model(pruned)
    counts_before, counts_after = graph.counts(graph.keep_all()), graph.counts(plan.keep)
    if before.mult_adds != plan.planner.mult_adds_before:
        raise RuntimeError(f"prune_channels: counted {plan.planner.mult_adds_before:,} Mult-Adds in '{graph.model.name}', "
                           f"the profiler {before.mult_adds:,} (a bug).")
    rows_before = {row.name: row for row in before.layers}
    rows_after = {row.name: row for row in after.layers}
    layers, kept_channels = [], {}
    for node in graph.nodes:
        if not node.outputs:
            continue
        planned_macs = layer_mult_adds(node, graph.shapes, counts_after) if node.kind in COUNTED else 0
        trainable = {id(w) for w in node.layer.trainable_weights}
        planned_params = sum(math.prod(shape) for weight, shape in weight_shapes(node, counts_after)
                             if id(weight) in trainable)
        row_before, row_after = rows_before[node.name], rows_after[node.name]
        if (planned_macs, planned_params) != (row_after.mult_adds, row_after.trainable_params):
            raise RuntimeError(
                f"prune_channels: layer '{node.name}' of the pruned model has {row_after.mult_adds:,} Mult-Adds and "
                f"{row_after.trainable_params:,} params; the plan says {planned_macs:,} and {planned_params:,} (a bug)."
            )
        key = node.outputs[0]
        if counts_after[key] != counts_before[key]:
            kept_channels[node.name] = tuple(graph.kept_indices(key, plan.keep).tolist())
        layers.append(LayerChange(node.name, node.kind, counts_before[key], counts_after[key], row_before.mult_adds,
                                  planned_macs, row_before.trainable_params, planned_params))
    groups = []
    for index, segment in enumerate(graph.segments):
        width = next(iter(segment.widths.values()))
        units = plan.planner.units[index][:plan.prefixes[index]]
        kept = len(segment.classes) - sum(len(classes) for classes, _ in units)
        if len(plan.planner.allowed[index]) == 1:
            status, reason = "fixed", _rounding_reason(segment, round_to)
        else:
            status, reason = ("pruned" if kept < len(segment.classes) else "kept"), plan.used[index]
        groups.append(ChannelGroup(segment.name, segment.layers, segment.channels, width * kept, status, reason))
    groups += _fixed_rows(graph)
    return ChannelPruningReport(
        model_name=graph.model.name, criterion=criterion, target_reduction=mac_reduction, round_to=round_to,
        mult_adds_before=before.mult_adds, mult_adds_after=after.mult_adds,
        params_before=before.trainable_params, params_after=after.trainable_params,
        groups=tuple(groups), layers=tuple(layers), kept_channels=kept_channels,
    )
