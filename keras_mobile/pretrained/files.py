"""Loading weights into a built model: a local file (checked layer by layer), or ``"imagenet"``."""

import os
import tempfile
import warnings
import zipfile

from keras_mobile.pretrained import legacy_h5
from keras_mobile.pretrained.imagenet import load_imagenet
from keras_mobile.pretrained.legacy_h5 import NewClassifierWarning  # noqa: F401  (re-exported)
from keras_mobile.validation import fail

_HINT = "check classes, include_top, alpha and the variant"
WEIGHTS_SUFFIXES = (".weights.h5", ".h5", ".keras")
KERAS_ARCHIVE_WEIGHTS = "model.weights.h5"  # where a .keras file keeps the weights


def load_weights(model, path, imagenet=None, include_top=True, classes=1000):
    """Load ``weights`` into a just-built model: ``"imagenet"`` or a local file, every shape checked first.

    ``"imagenet"`` loads the keras.applications file ``imagenet`` names
    (``imagenet.load_imagenet``; downloaded once into Keras' cache). A local
    file is one ``model.save_weights`` wrote on either Keras line
    (``.weights.h5``; legacy ``.h5``), e.g. by ``keras_mobile.convert``, or a
    keras.applications file of the same variant, or a ``.keras`` model file
    (the weights inside it); a mismatch names the first
    layer whose shapes differ (typically ``logits`` when ``classes`` differs).

    Legacy ``.h5`` files are loaded by position, as Keras loads them
    (``legacy_h5.load_by_position``): their layer names need not be ours, and
    trailing layers the model lacks (a with-top file for ``include_top=False``)
    are skipped. Returns that ``LoadReport`` for them, else None. A file that is
    not HDF5, or that HDF5 cannot read (cut short, corrupt), raises a
    ``ValueError`` naming it.

    Transfer learning: with ``include_top``, a file (or ``"imagenet"``) whose
    classifier has another number of classes than the model's loads into every
    other layer; the classifier keeps its fresh initialisation and a
    ``NewClassifierWarning`` names its skipped weights (``warnings`` shows it
    once; catch it to record it). Any other mismatch is an error, as above.
    """
    import h5py

    if isinstance(path, str) and path == "imagenet":
        return load_imagenet(model, imagenet, include_top=include_top, classes=classes)
    if not isinstance(path, (str, os.PathLike)) or not os.path.isfile(path):
        missing = f" (no such file: {os.fspath(path)!r})" if isinstance(path, (str, os.PathLike)) else ""
        fail("weights", path, "None, 'imagenet' (families keras.applications publishes) or the path of an existing "
                              f"weights file ({', '.join(WEIGHTS_SUFFIXES)}){missing}")
    path = os.fspath(path)
    if zipfile.is_zipfile(path):  # a .keras model file: its weights are the model.weights.h5 inside
        with tempfile.TemporaryDirectory() as scratch:
            return load_weights(model, _weights_in_keras_file(path, scratch), imagenet, include_top, classes)
    source = f"weights={path!r}"
    if not h5py.is_hdf5(path):
        raise ValueError(
            f"{source} is not an HDF5 file (file type unknown); accepted values: a Keras weights file, "
            f"{list(WEIGHTS_SUFFIXES)}, as save_weights writes it. A PyTorch checkpoint (.safetensors, .pth) is "
            "converted first: python -m keras_mobile.convert CHECKPOINT --model NAME --out FILE.weights.h5."
        )
    if legacy_h5.is_legacy_file(path, source):
        return legacy_h5.load_by_position(model, legacy_h5.read_layers(path, source), source, _HINT,
                                          new_classifier=include_top)
    mismatches = list(_compare_weight_shapes(model, path, source))
    classifier = legacy_h5.classifier_layer(model) if include_top else None
    if (len(mismatches) == 1 and classifier is not None and mismatches[0][0] == classifier.name
            and mismatches[0][2] is not None and legacy_h5.differs_in_classes_only(*mismatches[0][1:])):
        _load_all_but(model, path, source, classifier)
        warnings.warn(legacy_h5.new_classifier_warning(source, model, classifier, mismatches[0][2]), stacklevel=3)
        return None
    for layer_name, expected, found in mismatches:
        raise ValueError(
            f"weights={path!r} does not fit model '{model.name}': layer '{layer_name}' has weight shapes "
            f"{expected} in the model but {found} in the file ({_HINT})."
        )
    model.load_weights(path)


def _weights_in_keras_file(path, scratch):
    """The ``model.weights.h5`` of the ``.keras`` archive at ``path``, extracted into ``scratch``."""
    with zipfile.ZipFile(path) as archive:
        if KERAS_ARCHIVE_WEIGHTS not in archive.namelist():
            raise ValueError(f"weights={path!r} is a zip archive without {KERAS_ARCHIVE_WEIGHTS} (not a .keras model "
                             f"file); accepted values: a Keras weights file {list(WEIGHTS_SUFFIXES)} or a .keras file.")
        return archive.extract(KERAS_ARCHIVE_WEIGHTS, scratch)


def _layer_keys(model):
    """``(layer, key)`` pairs: where Keras' ``.weights.h5`` layout keeps each layer's variables
    (``layers/<snake_case class name>[_<n>]``, numbered in layer order)."""
    counts = {}
    for layer in model.layers:
        key = _snake_case(type(layer).__name__)
        n = counts.get(key, 0)
        counts[key] = n + 1
        yield layer, (key if n == 0 else f"{key}_{n}")


def _load_all_but(model, path, source, skipped):
    """Every layer's variables from the ``.weights.h5`` file at ``path`` except ``skipped``'s (shapes checked)."""
    with legacy_h5.open_hdf5(path, source) as f:
        for layer, key in _layer_keys(model):
            group = f.get(f"layers/{key}/vars")
            if layer is skipped or group is None or not layer.weights:
                continue
            layer.load_own_variables({str(i): group[str(i)][()] for i in range(len(group))})


def _compare_weight_shapes(model, path, source):
    with legacy_h5.open_hdf5(path, source) as f:
        for layer, key in _layer_keys(model):
            expected = [tuple(w.shape) for w in layer.weights]
            group = f.get(f"layers/{key}/vars")
            found = [tuple(group[str(i)].shape) for i in range(len(group))] if group is not None else None
            if found is None and not expected:
                continue
            if found != expected:
                yield layer.name, expected, found


def _snake_case(name):
    import re

    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()
