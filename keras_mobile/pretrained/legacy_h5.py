"""The legacy Keras HDF5 weights layout, read without Keras, and loaded into a model by position.

The layout is the one keras.applications publishes its ImageNet files in, and the one tf_keras
``model.save_weights("x.h5")`` and Keras 3 ``legacy_h5_format.save_weights_to_hdf5_group`` write:

    /                       attrs: layer_names (every layer, in model.layers order; split into
                            layer_names0, layer_names1, ... when long), backend, keras_version
    /<layer name>           attrs: weight_names (empty for a layer without weights)
    /<layer name>/<weight name>   the array ('/' in a name is a nested group: "Conv/BatchNorm")

A full-model file (``model.save("x.h5")``) holds the same under ``/model_weights``.

Keras loads these files by position (``load_weights_from_hdf5_group``: the file's layers that have
weights, in file order, zipped with the model's layers that have weights), each layer's arrays in its
legacy order ``trainable_weights + non_trainable_weights`` (BatchNormalization: gamma, beta,
moving_mean, moving_variance; SeparableConv2D: depthwise, pointwise, bias). ``load_by_position``
does the same, checks every shape before it assigns anything, and names the first layer that does
not fit. Layer names are never used to match: keras.applications' files carry tf_keras names
(``Conv/BatchNorm``, ``block_1_expand_BN``) and Xception's residual layers are auto-named.
"""

import dataclasses
import logging
from typing import Tuple

import numpy as np

_LOG = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class FileLayer:
    """A layer with weights in a legacy file: its name and arrays, in the file's (legacy) order."""

    name: str
    weight_names: Tuple[str, ...]
    arrays: tuple

    @property
    def shapes(self):
        return [tuple(a.shape) for a in self.arrays]


@dataclasses.dataclass(frozen=True)
class LoadReport:
    """What ``load_by_position`` did: ``loaded`` (file layer, model layer) name pairs in order, the
    file's trailing layers with weights that the model has no counterpart for (``skipped``), and the model's
    layers left as initialised because their classes differ from the file's (``new``: the classifier)."""

    loaded: Tuple[Tuple[str, str], ...]
    skipped: Tuple[str, ...]
    new: Tuple[str, ...] = ()


def _decode(value):
    return value.decode("utf8") if isinstance(value, bytes) else str(value)


def _string_list_attr(group, name):
    """A list-of-strings attribute, also when Keras split it into ``name0``, ``name1``, ... chunks."""
    if name in group.attrs:
        return [_decode(v) for v in group.attrs[name]]
    values, chunk = [], 0
    while f"{name}{chunk}" in group.attrs:
        values.extend(_decode(v) for v in group.attrs[f"{name}{chunk}"])
        chunk += 1
    return values


def _weights_group(f):
    """The group holding ``layer_names``: the root, or ``/model_weights`` of a full-model file; else None."""
    for group in (f, f.get("model_weights")):
        if group is not None and ("layer_names" in group.attrs or "layer_names0" in group.attrs):
            return group
    return None


def open_hdf5(path, source=None, hint=""):
    """``h5py.File(path, "r")``; where HDF5 cannot read the file (cut short, corrupt, not HDF5), a
    ``ValueError`` starting with ``source`` (default: the path) and ending with ``hint``, from h5py's error."""
    import h5py

    try:
        return h5py.File(path, "r")
    except OSError as error:
        hint = f"; {hint}" if hint else ""
        raise ValueError(f"{source or repr(path)}: the file is truncated or corrupt; HDF5 cannot read it "
                         f"(h5py: {error}){hint}.") from error


def is_legacy_file(path, source=None, hint=""):
    """Whether ``path`` is an HDF5 file in the legacy layout (not Keras 3's ``.weights.h5`` layout); an HDF5
    file that cannot be read raises ``open_hdf5``'s ValueError."""
    import h5py

    if not h5py.is_hdf5(path):
        return False
    with open_hdf5(path, source, hint) as f:
        return _weights_group(f) is not None


def read_layers(path, source=None, hint=""):
    """The file's layers that have weights, in file order (``FileLayer``s, arrays read into memory).
    ``source`` and ``hint`` frame the ValueError for a file HDF5 cannot read (``open_hdf5``)."""
    with open_hdf5(path, source, hint) as f:
        group = _weights_group(f)
        if group is None:
            raise ValueError(f"{path!r} is not a legacy Keras HDF5 weights file (no 'layer_names' attribute).")
        layers = []
        for name in _string_list_attr(group, "layer_names"):
            layer_group = group[name]
            weight_names = _string_list_attr(layer_group, "weight_names")
            if weight_names:
                arrays = tuple(np.asarray(layer_group[w]) for w in weight_names)
                layers.append(FileLayer(name, tuple(weight_names), arrays))
        return layers


def legacy_variables(layer):
    """``layer``'s variables in the legacy file order: trainable, then non-trainable."""
    return list(layer.trainable_weights) + list(layer.non_trainable_weights)


def classifier_layer(model):
    """The model's classifier: its last layer with weights (``logits`` Dense or ``logits_conv``)."""
    return [layer for layer in model.layers if layer.weights][-1]


def differs_in_classes_only(model_shapes, file_shapes):
    """Whether two weight-shape lists differ only in their last axis (the class axis of a kernel and bias)."""
    return (len(model_shapes) == len(file_shapes) and model_shapes != file_shapes
            and all(len(a) == len(b) and a[:-1] == b[:-1] for a, b in zip(model_shapes, file_shapes)))


class NewClassifierWarning(UserWarning):
    """The weights fit every layer but the classifier, whose number of classes differs: the classifier keeps
    its fresh initialisation (transfer learning). ``layer``: its name; ``weights``: ``(name, model shape, file
    shape)`` per skipped weight."""

    def __init__(self, source, model_name, layer, weights):
        self.layer = layer
        self.weights = tuple(weights)
        listed = ", ".join(f"{n} {m} (file {f})" for n, m, f in self.weights)
        super().__init__(f"{source}: loaded into every layer of model '{model_name}' but its classifier "
                         f"'{layer}', whose classes differ from the file's; it is newly initialised. Skipped: {listed}.")


def new_classifier_warning(source, model, layer, file_shapes):
    """The ``NewClassifierWarning`` for ``layer`` of ``model`` (its shapes vs ``file_shapes``)."""
    weights = [(w.path if hasattr(w, "path") else w.name, tuple(w.shape), f)
               for w, f in zip(legacy_variables(layer), file_shapes)]
    return NewClassifierWarning(source, model.name, layer.name, weights)


def load_by_position(model, file_layers, source, hint="", new_classifier=False):
    """Assign ``file_layers`` (``read_layers``) to ``model``'s layers that have weights, in order.

    The file may have more layers with weights than the model (a prefix model: ``features_only``, or a
    with-top file for an ``include_top=False`` model); those trailing layers are skipped and returned in
    the report. Every shape is checked before anything is assigned: a ``ValueError`` (starting with
    ``source``, ending with ``hint``) names the model's layer, the file's layer and both shapes.
    With ``new_classifier``, the model's classifier (``classifier_layer``) may differ from its file
    counterpart in the number of classes only: it is then left as initialised, and a
    ``NewClassifierWarning`` is issued (``LoadReport.new``).
    """
    import warnings

    ours = [layer for layer in model.layers if layer.weights]
    hint = f" ({hint})" if hint else ""
    if len(file_layers) < len(ours):
        missing = ours[len(file_layers)]
        raise ValueError(
            f"{source} does not fit model '{model.name}': the file has {len(file_layers)} layers with weights, the "
            f"model {len(ours)}; layer '{missing.name}' (weight shapes "
            f"{[tuple(v.shape) for v in legacy_variables(missing)]}) has no counterpart in the file{hint}."
        )
    new = None
    for index, (layer, file_layer) in enumerate(zip(ours, file_layers), start=1):
        expected = [tuple(v.shape) for v in legacy_variables(layer)]
        if expected != file_layer.shapes:
            if new_classifier and layer is ours[-1] and differs_in_classes_only(expected, file_layer.shapes):
                new = new_classifier_warning(source, model, layer, file_layer.shapes)
                continue
            raise ValueError(
                f"{source} does not fit model '{model.name}': layer '{layer.name}' has weight shapes {expected} in "
                f"the model but {file_layer.shapes} in the file (its layer '{file_layer.name}', number {index} of the "
                f"file's {len(file_layers)} layers with weights, matched by position){hint}."
            )
    for layer, file_layer in zip(ours, file_layers):
        if new is not None and layer.name == new.layer:
            continue
        for variable, value in zip(legacy_variables(layer), file_layer.arrays):
            variable.assign(value)
    report = LoadReport(
        loaded=tuple((f.name, layer.name) for layer, f in zip(ours, file_layers)
                     if new is None or layer.name != new.layer),
        skipped=tuple(f.name for f in file_layers[len(ours):]),
        new=(new.layer,) if new is not None else (),
    )
    if report.skipped:
        _LOG.info("%s: model '%s' has no counterpart for the file's last %d layers with weights, skipped: %s",
                  source, model.name, len(report.skipped), ", ".join(report.skipped))
    if new is not None:
        warnings.warn(new, stacklevel=3)
    return report
