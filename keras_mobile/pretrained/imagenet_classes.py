"""``decode_predictions``: the ImageNet-1k classes behind a classifier's 1000 scores, shipped with the package.

    preds = model.predict(images)                       # (batch, 1000)
    keras_mobile.decode_predictions(preds, top=3)
    # [[('n02123045', 'tabby', 0.61), ('n02123159', 'tiger_cat', 0.22), ('n02124075', 'Egyptian_cat', 0.09)], ...]

Like ``keras.applications.imagenet_utils.decode_predictions``, with no download: for each row, the
``top`` classes as ``(wordnet_id, class_name, score)`` tuples, highest score first (ties: lower class
index first); ``score`` is a Python float.

The classes: ``imagenet_classes.txt`` beside this module, 1000 lines ``wordnet_id<TAB>name`` in the
standard class-index order (n01440764 "tench" first, n15075141 "toilet_tissue" last; the order of
keras.applications' ``imagenet_class_index.json``, of timm, and of TFDS'
``imagenet2012`` labels). ``name`` is the WordNet synset's first lemma with spaces replaced by
underscores, keras.applications' style ("great_white_shark"); so two pairs of classes share a name,
as in keras.applications: "crane" (bird n02012849, machine n03126707) and "maillot" (n03710637,
n03710721). Source: the WordNet lemmas as distributed by timm (``timm/data/_info/imagenet_synsets.txt``
and ``imagenet_synset_to_lemma.txt``, timm 1.0.31, Apache-2.0); regenerate with
``python tools/make_imagenet_classes.py``.

This module imports numpy only (no Keras): ``preds`` may be a numpy array or anything ``np.asarray``
reads (a TensorFlow eager tensor, a JAX array, a CPU torch tensor without grad); convert other
tensors with ``keras.ops.convert_to_numpy`` first.
"""

import functools
import os

import numpy as np

from keras_mobile.validation import check_int, fail

CLASSES = 1000
CLASSES_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "imagenet_classes.txt")


@functools.lru_cache(maxsize=None)
def load_class_names():
    """The 1000 ``(wordnet_id, name)`` pairs, indexed by class (read once from ``imagenet_classes.txt``)."""
    with open(CLASSES_FILE, encoding="utf-8") as f:
        pairs = tuple(tuple(line.rstrip("\n").split("\t")) for line in f)
    if len(pairs) != CLASSES or any(len(pair) != 2 for pair in pairs):
        raise OSError(f"{CLASSES_FILE}: expected {CLASSES} lines 'wordnet_id<TAB>name'; "
                      "regenerate it with tools/make_imagenet_classes.py")
    return pairs


CLASS_NAMES = tuple(name for _, name in load_class_names())  # class index -> name ("tench", ...)


def decode_predictions(preds, top=5):
    """For each row of ``preds`` (batch, 1000), the ``top`` ``(wordnet_id, class_name, score)``, best first."""
    top = check_int("top", top, minimum=1, maximum=CLASSES)
    scores = np.asarray(preds)
    if scores.ndim != 2 or scores.shape[1] != CLASSES:
        fail("preds.shape", tuple(scores.shape), f"(batch, {CLASSES}): one row of {CLASSES} ImageNet scores per image")
    if scores.dtype.kind not in "fiu" and scores.dtype.name != "bfloat16":
        fail("preds.dtype", scores.dtype.name, "a real number dtype (float, bfloat16, int)")
    scores = scores.astype(np.float64)
    best = np.argsort(-scores, axis=1, kind="stable")[:, :top]
    pairs = load_class_names()
    return [[pairs[i] + (float(row[i]),) for i in order] for row, order in zip(scores, best)]
