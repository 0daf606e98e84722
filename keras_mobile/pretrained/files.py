"""Loading weights into a built model: a local file (checked layer by layer), or ``"imagenet"``."""

import os

from keras_mobile.pretrained import legacy_h5
from keras_mobile.pretrained.imagenet import load_imagenet

_HINT = "check classes, include_top, alpha and the variant"
WEIGHTS_SUFFIXES = (".weights.h5", ".h5")


def load_weights(model, path, imagenet=None, include_top=True, classes=1000):
    """Load ``weights`` into a just-built model: ``"imagenet"`` or a local file, every shape checked first.

    ``"imagenet"`` loads the keras.applications file ``imagenet`` names
    (``imagenet.load_imagenet``; downloaded once into Keras' cache). A local
    file is one ``model.save_weights`` wrote on either Keras line
    (``.weights.h5``; legacy ``.h5``), e.g. by ``keras_mobile.convert``, or a
    keras.applications file of the same variant; a mismatch names the first
    layer whose shapes differ (typically ``logits`` when ``classes`` differs).

    Legacy ``.h5`` files are loaded by position, as Keras loads them
    (``legacy_h5.load_by_position``): their layer names need not be ours, and
    trailing layers the model lacks (a with-top file for ``include_top=False``)
    are skipped. Returns that ``LoadReport`` for them, else None. A file that is
    not HDF5, or that HDF5 cannot read (cut short, corrupt), raises a
    ``ValueError`` naming it.
    """
    import h5py

    if isinstance(path, str) and path == "imagenet":
        return load_imagenet(model, imagenet, include_top=include_top, classes=classes)
    if not isinstance(path, (str, os.PathLike)):
        raise ValueError(
            f"weights={path!r} is not supported; accepted values: None, 'imagenet' (families keras.applications "
            "publishes) or the path of a local weights file (.weights.h5 or .h5)."
        )
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"weights={path!r}: no such file (accepted values: None or the path of a local weights file).")
    source = f"weights={path!r}"
    if not h5py.is_hdf5(path):
        raise ValueError(
            f"{source} is not an HDF5 file (file type unknown); accepted values: a Keras weights file, "
            f"{list(WEIGHTS_SUFFIXES)}, as save_weights writes it. A PyTorch checkpoint (.safetensors, .pth) is "
            "converted first: python -m keras_mobile.convert CHECKPOINT --model NAME --out FILE.weights.h5."
        )
    if legacy_h5.is_legacy_file(path, source):
        return legacy_h5.load_by_position(model, legacy_h5.read_layers(path, source), source, _HINT)
    for layer_name, expected, found in _compare_weight_shapes(model, path, source):
        raise ValueError(
            f"weights={path!r} does not fit model '{model.name}': layer '{layer_name}' has weight shapes "
            f"{expected} in the model but {found} in the file ({_HINT})."
        )
    model.load_weights(path)


def _compare_weight_shapes(model, path, source):
    with legacy_h5.open_hdf5(path, source) as f:
        # Keras 3 layout: layers/<snake_case class name>[_<n>]/vars/<i>, in layer order.
        counts = {}
        for layer in model.layers:
            key = _snake_case(type(layer).__name__)
            n = counts.get(key, 0)
            counts[key] = n + 1
            key = key if n == 0 else f"{key}_{n}"
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
