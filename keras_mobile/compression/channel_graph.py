"""Channel dependency groups of a functional Keras model: which channels can only be removed together.

Every channel of every tensor is an *atom*. Walking the graph once, each layer ties atoms together:

* a producer (``Conv2D``, ``SeparableConv2D``, ``Dense``) creates one new atom per output channel;
* a per-channel layer (BatchNormalization, activations, pooling, padding, dropout, scalar
  ``Rescaling``) and a ``DepthwiseConv2D`` (depth multiplier 1) pass their input's atoms on;
* ``Add`` / ``Multiply`` / ``Subtract`` / ``Average`` / ``Maximum`` / ``Minimum`` unite channel ``i`` of
  every input (residuals, squeeze-excite gates, hard-swish);
* ``Concatenate`` (channel axis) lays its inputs' atoms side by side and ``ChannelSplit`` slices them;
* ``ChannelShuffle(G)`` on ``C = G * m`` channels permutes them, and ties one of its two valid
  patterns, so that the smaller layer is still a channel shuffle: the ``m`` channels of each of the
  ``G`` blocks (whole blocks go, ``G`` shrinks) when ``m < G`` or when the shuffle feeds an ``m``-group
  conv, which then sees each block as one channel per group (ShuffleNetV1's megvii shuffle); else
  channel ``j`` of every block (``G`` stays; ShuffleNetV2's two halves);
* anything else (Flatten, Reshape, Lambda, softmax, depth multipliers > 1, unknown layers) fixes its
  input and output channels.

Atoms that are tied form a *class* (union-find): removing a class removes those channels from every
tensor that carries them. The model's input channels and output channels are fixed, and so is every
channel of a layer in ``skip_layers``.

Grouped convolutions (``Conv2D(groups=g)``, MixNet's 2-group 1x1s, ShuffleNetV1) need every group to
lose as many channels as the others: a class lying in one group is removed in *rounds* of one class
per group; a class spread evenly over the groups is free; a class spread unevenly is fixed, and so are
the classes of a grouped layer whose groups other grouped layers cut differently.

Classes with the same producers (and as many channels in each) form a *segment*: one set of channels
made together, e.g. an inverted residual's expansion (expand conv, depthwise, its BNs, the SE gate's
expand conv, the projection's input) or a stage's residual stream (every projection of the stage).
The pruner decides how many classes each segment keeps.
"""

import dataclasses
import math

import numpy as np

from keras_mobile.graph import flatten, graph_nodes, model_structures, tensor_key

# Output channel i is input channel i (per-channel or element-wise layers).
PASS_THROUGH = frozenset({
    "BatchNormalization", "ReLU", "Activation", "LeakyReLU", "ELU", "Dropout", "SpatialDropout2D",
    "GaussianNoise", "GaussianDropout", "AlphaDropout", "ZeroPadding2D", "Cropping2D", "UpSampling2D",
    "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D", "Rescaling",
    "Identity", "ActivityRegularization",
})
# Element-wise layers of several inputs: channel i of each input is channel i of the output.
ELEMENTWISE = frozenset({"Add", "Multiply", "Subtract", "Average", "Maximum", "Minimum"})
# Layers that create output channels (filters / units) from all (or a group of) their input channels.
PRODUCERS = frozenset({"Conv2D", "SeparableConv2D", "Dense"})
# Layers with Mult-Adds (the profiler's definition, keras_mobile.profile).
COUNTED = PRODUCERS | {"DepthwiseConv2D"}
_MIXING_ACTIVATIONS = frozenset({"softmax", "log_softmax"})

MODEL_INPUT = "model input"
MODEL_OUTPUT = "model output"
SKIPPED = "in skip_layers"
_PRIORITY = {MODEL_INPUT: 0, MODEL_OUTPUT: 1, SKIPPED: 2}  # which reason a class shows when it has several


# --------------------------------------------------------------------------- union-find
class _Atoms:
    def __init__(self):
        self.parent = []
        self.producer = []  # the layer that created the atom (None: model input or a fixed layer)
        self.fixed = {}  # atom -> why it cannot be removed

    def new(self, count, producer=None, fixed=None):
        start = len(self.parent)
        self.parent.extend(range(start, start + count))
        self.producer.extend([producer] * count)
        atoms = np.arange(start, start + count, dtype=np.int64)
        if fixed:
            self.fix(atoms, fixed)
        return atoms

    def find(self, atom):
        parent = self.parent
        root = atom
        while parent[root] != root:
            root = parent[root]
        while parent[atom] != root:
            parent[atom], atom = root, parent[atom]
        return root

    def union(self, a, b):
        ra, rb = self.find(int(a)), self.find(int(b))
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def union_all(self, atoms):
        atoms = list(atoms)
        for other in atoms[1:]:
            self.union(atoms[0], other)

    def fix(self, atoms, reason):
        for atom in np.asarray(atoms).reshape(-1):
            self.fixed.setdefault(int(atom), reason)


# --------------------------------------------------------------------------- result types
@dataclasses.dataclass(frozen=True)
class GroupConstraint:
    """A grouped conv's input or output tensor: each of its ``groups`` equal slices loses as many channels."""

    layer: str
    tensor: tuple
    groups: int


@dataclasses.dataclass
class Segment:
    """Classes made by the same producers (as many channels in each): the unit whose size the pruner sets.

    classes: class ids; widths: ``{producer layer: channels each class has in its output}``;
    cells: None (any class can go alone) or one array of class ids per group of the grouped convs that
    constrain them (classes then go in rounds, one per cell); layers: every layer the channels pass.
    """

    name: str
    classes: np.ndarray
    widths: dict
    cells: object
    layers: tuple

    @property
    def channels(self):
        """Channels of the segment in its first producer's output."""
        return len(self.classes) * next(iter(self.widths.values()))


class ChannelGraph:
    """The channel classes, segments and fixed channels of a functional model (see the module docstring).

    ``graph.counts(keep)`` gives every tensor's channel count when the classes with ``keep[c]`` True
    survive (fixed classes always survive); ``graph.kept_indices(key, keep)`` the surviving channels of a
    tensor, in their original order.
    """

    def __init__(self, model, skip_layers=()):
        self.model = model
        self.nodes = graph_nodes(model)
        self.node = {node.name: node for node in self.nodes}
        self._readers = {}
        for node in self.nodes:
            for key in node.inputs:
                self._readers.setdefault(key, []).append(node)
        self.shapes = {}
        self.shuffle_mode = {}
        self.constraints = []
        self._class_tensors = None
        self._walk(model, set(skip_layers))
        self._finish()

    # ------------------------------------------------------------------ the walk
    def _walk(self, model, skip_layers):
        atoms = self._atoms = _Atoms()
        tensors = self.tensor_atoms = {}
        self._fixed_nodes = set()
        for node in self.nodes:
            for key, tensor in zip(node.outputs, self._output_tensors(node)):
                self.shapes[key] = tuple(tensor.shape)
            ins = [tensors[key] for key in node.inputs]
            outs = self._layer_atoms(node, ins)
            for key, value in zip(node.outputs, outs):
                tensors[key] = value
            if node.name in skip_layers:
                for value in ins + outs:
                    atoms.fix(value, SKIPPED)
        _, outputs = model_structures(model)
        for tensor in flatten(outputs):
            atoms.fixed.update((int(a), MODEL_OUTPUT) for a in tensors[tensor_key(tensor)])

    @staticmethod
    def _output_tensors(node):
        output = node.layer.output
        return output if isinstance(output, (list, tuple)) else [output]

    def _channels(self, key):
        return int(self.shapes[key][-1])

    def _fixed_layer(self, node, ins, why):
        """Fix every input channel of ``node`` and give its outputs fresh fixed atoms."""
        reason = f"{node.name} ({node.kind}) {why}"
        self._fixed_nodes.add(node.name)
        for value in ins:
            self._atoms.fix(value, reason)
        return [self._atoms.new(self._channels(key), fixed=reason) for key in node.outputs]

    def _layer_atoms(self, node, ins):
        atoms, layer, kind = self._atoms, node.layer, node.kind
        config = layer.get_config()
        if kind == "InputLayer":
            return [atoms.new(self._channels(key), fixed=MODEL_INPUT) for key in node.outputs]
        if config.get("data_format") not in (None, "channels_last"):
            return self._fixed_layer(node, ins, "is not channels-last")
        if kind in PASS_THROUGH:
            why = _pass_through_problem(layer, kind, config, self.shapes[node.outputs[0]])
            return self._fixed_layer(node, ins, why) if why else [ins[0]]
        if kind == "DepthwiseConv2D":
            if config.get("depth_multiplier", 1) != 1:
                return self._fixed_layer(node, ins, "has depth_multiplier > 1")
            return [ins[0]]
        if kind in ELEMENTWISE:
            if len({len(value) for value in ins}) != 1:
                return self._fixed_layer(node, ins, "broadcasts its channels")
            for column in zip(*ins):
                atoms.union_all(column)
            return [ins[0]]
        if kind == "Concatenate":
            rank = len(self.shapes[node.outputs[0]])
            if config.get("axis", -1) not in (-1, rank - 1):
                return self._fixed_layer(node, ins, "does not concatenate channels")
            return [np.concatenate(ins)]
        if kind == "ChannelSplit":
            cuts = np.cumsum(config["sizes"])[:-1]
            return list(np.split(ins[0], cuts))
        if kind == "ChannelShuffle":
            return [self._shuffle(node, ins[0], int(config["groups"]))]
        if kind in PRODUCERS:
            return [self._produce(node, ins, config)]
        return self._fixed_layer(node, ins, "is not channel-aware")

    def _feeds_grouped_conv(self, key, groups):
        """True if tensor ``key`` reaches a ``Conv2D(groups=groups)`` through per-channel layers only."""
        for node in self._readers.get(key, ()):
            if node.kind == "Conv2D" and int(node.layer.get_config().get("groups", 1) or 1) == groups:
                return True
            if (node.kind in PASS_THROUGH or node.kind == "DepthwiseConv2D") and self._feeds_grouped_conv(
                    node.outputs[0], groups):
                return True
        return False

    def _shuffle(self, node, value, groups):
        block = len(value) // groups
        grid = value.reshape(groups, block)
        # Blocks spread one channel over each of ``block`` output slices: free for a ``block``-group conv
        # after the shuffle (megvii's ShuffleNetV1); otherwise the finer of the two patterns.
        if block < groups or self._feeds_grouped_conv(node.outputs[0], block):  # remove whole blocks
            self.shuffle_mode[node.name] = "blocks"
            for row in grid:
                self._atoms.union_all(row)
        else:  # remove channel j of every block together: the groups stay
            self.shuffle_mode[node.name] = "columns"
            for column in grid.T:
                self._atoms.union_all(column)
        return grid.T.reshape(-1)  # output j * groups + i is input i * block + j

    def _produce(self, node, ins, config):
        kind, atoms = node.kind, self._atoms
        if kind == "SeparableConv2D" and config.get("depth_multiplier", 1) != 1:
            atoms.fix(ins[0], f"{node.name} (SeparableConv2D) has depth_multiplier > 1")
        groups = int(config.get("groups", 1) or 1) if kind == "Conv2D" else 1
        output = atoms.new(self._channels(node.outputs[0]), producer=node.name)
        if groups > 1:
            self.constraints.append(GroupConstraint(node.name, node.inputs[0], groups))
            self.constraints.append(GroupConstraint(node.name, node.outputs[0], groups))
        return output

    # ------------------------------------------------------------------ classes, constraints, segments
    def _finish(self):
        atoms = self._atoms
        roots = np.array([atoms.find(a) for a in range(len(atoms.parent))], dtype=np.int64)
        unique, class_of_atom = np.unique(roots, return_inverse=True)
        self.num_classes = len(unique)
        self.class_of_atom = class_of_atom
        self.fixed_reason = [None] * self.num_classes
        self._name_model_ends()
        for atom, reason in sorted(atoms.fixed.items()):
            cls = class_of_atom[atom]
            current = self.fixed_reason[cls]
            if current is None or _PRIORITY.get(reason, 3) < _PRIORITY.get(current, 3):
                self.fixed_reason[cls] = reason
        self.tensor_classes = {key: class_of_atom[value] for key, value in self.tensor_atoms.items()}
        self._class_widths = {}  # class -> {producer layer: its channels in that layer's output}
        for atom, producer in enumerate(atoms.producer):
            if producer is not None:
                entry = self._class_widths.setdefault(int(class_of_atom[atom]), {})
                entry[producer] = entry.get(producer, 0) + 1
        self._order_of = {node.name: i for i, node in enumerate(self.nodes)}
        self._apply_constraints()
        self._segments()

    def _name_model_ends(self):
        """Channels fixed only because a fixed layer (Flatten, softmax, per-channel input scaling) sits between
        them and the model's input or output are fixed as that input or output."""
        fixed, tensors = self._atoms.fixed, self.tensor_atoms

        def all_are(keys, reason):
            return keys and all(fixed.get(int(a)) == reason for key in keys for a in tensors[key])

        for node in self.nodes:
            if node.name in self._fixed_nodes and all_are(node.inputs, MODEL_INPUT):
                for key in node.outputs:
                    fixed.update((int(a), MODEL_INPUT) for a in tensors[key])
        for node in reversed(self.nodes):
            if node.name in self._fixed_nodes and any(
                    fixed.get(int(a)) == MODEL_OUTPUT for key in node.outputs for a in tensors[key]):
                for key in node.inputs:
                    fixed.update((int(a), MODEL_OUTPUT) for a in tensors[key])

    def fix_classes(self, classes, reason):
        for cls in classes:
            if self.fixed_reason[cls] is None:
                self.fixed_reason[cls] = reason

    def _apply_constraints(self):
        """Cell of each class under each grouped-conv constraint; fix the classes rounds cannot keep balanced."""
        self.cell_of = {}  # class -> {constraint index: cell}
        members = {}
        for index, constraint in enumerate(self.constraints):
            classes = self.tensor_classes[constraint.tensor]
            cells = np.arange(len(classes)) // (len(classes) // constraint.groups)
            members[index] = {}
            for cls in np.unique(classes):
                counts = np.bincount(cells[classes == cls], minlength=constraint.groups)
                if len(set(counts)) == 1:
                    continue  # spread evenly: removing it keeps every group equal
                if np.count_nonzero(counts) == 1:
                    members[index][int(cls)] = (int(np.argmax(counts)), int(counts.max()))
                else:
                    self.fix_classes([cls], f"{constraint.layer} (Conv2D, groups={constraint.groups}) holds these "
                                            "channels in several of its groups unevenly")
        changed = True
        while changed:  # fixing classes can break another constraint's rounds; repeat until stable
            changed = False
            sets = {}
            for index, found in members.items():
                for cls in found:
                    if self.fixed_reason[cls] is None:
                        sets.setdefault(cls, set()).add(index)
            for index, found in members.items():
                live = [cls for cls in found if self.fixed_reason[cls] is None]
                if not live:
                    continue
                constraint = self.constraints[index]
                problem = None
                if len({frozenset(sets[cls]) for cls in live}) > 1:
                    problem = "other grouped convs cut its groups' channels differently"
                elif len({found[cls][1] for cls in live}) > 1:
                    problem = "its groups hold these channel sets in different sizes"
                elif len({self._producer_key(cls) for cls in live}) > 1:
                    problem = "channels made by different layers share its groups"
                else:
                    problem = self._cells_problem(live, sets[live[0]], members)
                if problem:
                    self.fix_classes(live, f"{constraint.layer} (Conv2D, groups={constraint.groups}): {problem}")
                    changed = True
        for index, found in members.items():
            for cls, (cell, _) in found.items():
                if self.fixed_reason[cls] is None:
                    self.cell_of.setdefault(cls, {})[index] = cell

    def _cells_problem(self, live, indices, members):
        """None if every constraint in ``indices`` sorts ``live`` into the same cells (up to their labels)."""
        indices = sorted(indices)
        first = indices[0]
        for other in indices[1:]:
            pairs = {(members[first][cls][0], members[other][cls][0]) for cls in live}
            if len({a for a, _ in pairs}) != len(pairs) or len({b for _, b in pairs}) != len(pairs):
                return "other grouped convs cut its groups' channels differently"
        return None

    def _producer_key(self, cls):
        return tuple(sorted(self._class_widths.get(cls, {}).items()))

    def _segments(self):
        order = self._order_of
        groups = {}
        for cls in range(self.num_classes):
            if self.fixed_reason[cls] is not None:
                continue
            widths = self._class_widths.get(cls)
            if not widths:  # cannot happen: every free channel is made by a producer
                self.fix_classes([cls], "made by no producer layer")
                continue
            cells = self.cell_of.get(cls)
            partition = tuple(sorted(cells)) if cells else None
            groups.setdefault((self._producer_key(cls), partition), []).append(cls)
        self.segments = []
        for (producer_key, partition), classes in groups.items():
            widths = dict(sorted(producer_key, key=lambda item: order[item[0]]))
            cells = None
            if partition is not None:
                first = partition[0]
                labels = sorted({self.cell_of[c][first] for c in classes})
                cells = [np.array([c for c in classes if self.cell_of[c][first] == label]) for label in labels]
                groups_needed = self.constraints[first].groups
                if len(cells) < groups_needed:  # some group has no removable member: nothing can go
                    self.fix_classes(classes, f"{self.constraints[first].layer} (Conv2D, groups={groups_needed}): "
                                              "one of its groups has no removable channels")
                    continue
            self.segments.append(Segment(next(iter(widths)), np.array(sorted(classes)), widths, cells,
                                         self._layers_of(classes)))
        self.segments.sort(key=lambda segment: (order[segment.name], -len(segment.classes)))
        seen = {}
        for segment in self.segments:  # names are unique: a layer making several segments numbers the others
            seen[segment.name] = seen.get(segment.name, 0) + 1
            if seen[segment.name] > 1:
                segment.name = f"{segment.name}#{seen[segment.name]}"

    def _layers_of(self, classes):
        if not hasattr(self, "_class_layers"):
            self._class_layers = {}
            for index, node in enumerate(self.nodes):
                if node.kind == "InputLayer":
                    continue
                for key in node.inputs + node.outputs:
                    for cls in np.unique(self.tensor_classes[key]).tolist():
                        self._class_layers.setdefault(cls, set()).add(index)
        indices = set().union(*(self._class_layers.get(int(c), set()) for c in classes))
        return tuple(self.nodes[i].name for i in sorted(indices))

    # ------------------------------------------------------------------ queries
    def keep_all(self):
        return np.ones(self.num_classes, dtype=bool)

    def counts(self, keep):
        """``{tensor key: channels}`` when the classes with ``keep[c]`` survive."""
        return {key: int(np.count_nonzero(keep[classes])) for key, classes in self.tensor_classes.items()}

    def kept_indices(self, key, keep):
        return np.nonzero(keep[self.tensor_classes[key]])[0]

    def class_tensors(self):
        """``{free class: [(tensor key, its channels there)]}``."""
        if self._class_tensors is None:
            table = {}
            for key, classes in self.tensor_classes.items():
                values, counts = np.unique(classes, return_counts=True)
                for cls, count in zip(values.tolist(), counts.tolist()):
                    if self.fixed_reason[cls] is None:
                        table.setdefault(cls, []).append((key, count))
            self._class_tensors = table
        return self._class_tensors

    def fixed_groups(self):
        """``[(reason, layer, channels)]``: the fixed channels by reason and by the first layer whose output
        holds them (their producer where they have one)."""
        first = {}
        for node in self.nodes:
            for key in node.outputs:
                for cls in np.unique(self.tensor_classes[key]).tolist():
                    first.setdefault(cls, key)
        rows = {}
        for cls, reason in enumerate(self.fixed_reason):
            if reason is None:
                continue
            widths = self._class_widths.get(cls, {})
            if widths:
                maker = min(widths, key=self._order_of.get)
                channels = widths[maker]
            else:
                key = first[cls]
                maker, channels = key[0], int(np.count_nonzero(self.tensor_classes[key] == cls))
            rows[(reason, maker)] = rows.get((reason, maker), 0) + channels
        return [(reason, maker, channels) for (reason, maker), channels in rows.items()]


def _pass_through_problem(layer, kind, config, out_shape):
    """Why a per-channel layer cannot pass channels through unchanged (None: it can)."""
    rank = len(out_shape)
    if kind == "BatchNormalization":
        axis = config.get("axis", -1)
        axis = axis[0] if isinstance(axis, (list, tuple)) and len(axis) == 1 else axis
        if axis not in (-1, rank - 1):
            return "normalizes another axis than channels"
    if kind == "Activation" and str(config.get("activation")) in _MIXING_ACTIVATIONS:
        return "mixes channels (softmax)"
    if kind == "Rescaling":
        if any(isinstance(config.get(arg), (list, tuple)) or np.ndim(config.get(arg, 0)) for arg in ("scale", "offset")):
            return "scales each channel differently"
    return None


# --------------------------------------------------------------------------- counting (the profiler's definitions)
def layer_mult_adds(node, shapes, counts):
    """Mult-Adds of a counted layer with the given channel counts (keras_mobile.profile's formula)."""
    layer, kind = node.layer, node.kind
    in_key, out_key = node.inputs[0], node.outputs[0]
    c_in, c_out = counts[in_key], counts[out_key]
    out_shape = shapes[out_key]
    positions = math.prod(d for d in out_shape[1:-1] if d is not None) if len(out_shape) > 2 else 1
    if kind == "Dense":
        return positions * c_in * c_out
    kh, kw = layer.kernel_size
    if kind == "Conv2D":
        return positions * c_out * (c_in // layer.groups) * kh * kw
    depthwise = positions * c_in * layer.depth_multiplier * kh * kw
    if kind == "DepthwiseConv2D":
        return depthwise
    return depthwise + positions * c_in * layer.depth_multiplier * c_out


def weight_shapes(node, counts):
    """``[(weight, new shape)]`` for every weight of the layer under the channel counts."""
    layer, kind = node.layer, node.kind
    c_in = counts[node.inputs[0]] if node.inputs else None
    c_out = counts[node.outputs[0]] if node.outputs else None
    shapes = []
    for weight in layer.weights:
        shape = tuple(int(d) for d in weight.shape)
        role = weight_role(layer, weight)
        if role == "kernel" and kind == "Conv2D":
            shape = shape[:2] + (c_in // layer.groups, c_out)
        elif role == "kernel" and kind == "Dense":
            shape = (c_in, c_out)
        elif role == "depthwise_kernel":
            shape = shape[:2] + (c_in, shape[3])
        elif role == "pointwise_kernel":
            shape = shape[:2] + (c_in * layer.depth_multiplier, c_out)
        elif role == "bias":
            shape = (c_in * layer.depth_multiplier,) if kind == "DepthwiseConv2D" else (c_out,)
        elif role == "per_channel":
            shape = (c_in,)
        shapes.append((weight, shape))
    return shapes


def weight_role(layer, weight):
    """How a weight's shape follows the channels: ``kernel``, ``depthwise_kernel``, ``pointwise_kernel``,
    ``bias``, ``per_channel`` (BatchNormalization) or ``other`` (unchanged)."""
    kind = type(layer).__name__
    for role in ("kernel", "depthwise_kernel", "pointwise_kernel", "bias"):
        if kind in COUNTED and getattr(layer, role, None) is weight:
            # Keras 3 names a DepthwiseConv2D's kernel ``kernel``, tf_keras ``depthwise_kernel``.
            return "depthwise_kernel" if kind == "DepthwiseConv2D" and role == "kernel" else role
    if kind == "BatchNormalization":
        return "per_channel"
    return "other"
