"""keras_mobile.decode_predictions: the shipped ImageNet classes, ordering, top, batches and bad input."""

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

import keras_mobile
from keras_mobile.pretrained import imagenet_classes

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _distinct_scores(batch=2, seed=0):
    """Distinct scores per row (a random permutation of 0..999, scaled), so the order is unambiguous."""
    rng = np.random.default_rng(seed)
    return np.stack([rng.permutation(1000) for _ in range(batch)]).astype(np.float32) / 1000.0


def _package_file(package, *parts):
    """A data file of an installed package, located without importing it (None when it is not installed)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(list(spec.submodule_search_locations)[0], *parts)
    return path if os.path.exists(path) else None


def _ids(path):
    with open(path, encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip()]


@pytest.mark.parametrize("index, wordnet_id, name", [
    (0, "n01440764", "tench"),
    (1, "n01443537", "goldfish"),
    (2, "n01484850", "great_white_shark"),
    (281, "n02123045", "tabby"),
    (712, "n03920288", "Petri_dish"),
    (986, "n12057211", "yellow_lady's_slipper"),
    (999, "n15075141", "toilet_tissue"),
])
def test_known_classes_at_their_keras_applications_indices(index, wordnet_id, name):
    assert imagenet_classes.load_class_names()[index] == (wordnet_id, name)
    assert imagenet_classes.CLASS_NAMES[index] == name
    preds = np.zeros((1, 1000), np.float32)
    preds[0, index] = 1.0
    assert keras_mobile.decode_predictions(preds, top=1) == [[(wordnet_id, name, 1.0)]]


def test_the_class_file_has_1000_unique_ids_and_is_read_once():
    pairs = imagenet_classes.load_class_names()
    assert len(pairs) == 1000 and len({wnid for wnid, _ in pairs}) == 1000
    assert all(wnid.startswith("n") and len(wnid) == 9 and " " not in name for wnid, name in pairs)
    assert imagenet_classes.load_class_names() is pairs
    with open(imagenet_classes.CLASSES_FILE, encoding="utf-8") as f:
        assert len(f.read().splitlines()) == 1000


def test_rows_are_sorted_by_score_descending_with_top_entries():
    preds = _distinct_scores(batch=3)
    decoded = keras_mobile.decode_predictions(preds, top=7)
    pairs = imagenet_classes.load_class_names()
    assert len(decoded) == 3
    for row, result in zip(preds, decoded):
        assert len(result) == 7
        expected = np.argsort(row)[::-1][:7]
        assert [(wnid, name) for wnid, name, _ in result] == [pairs[i] for i in expected]
        scores = [score for _, _, score in result]
        assert scores == sorted(scores, reverse=True) and all(isinstance(s, float) for s in scores)
        assert scores[0] == pytest.approx(float(row.max()))


def test_default_top_is_five_and_top_1000_lists_every_class():
    preds = _distinct_scores(batch=1)
    assert len(keras_mobile.decode_predictions(preds)[0]) == 5
    every = keras_mobile.decode_predictions(preds, top=1000)[0]
    assert sorted(wnid for wnid, _, _ in every) == sorted(wnid for wnid, _ in imagenet_classes.load_class_names())


def test_ties_keep_the_lower_class_index_first_and_an_empty_batch_is_empty():
    decoded = keras_mobile.decode_predictions(np.zeros((1, 1000)), top=3)[0]
    assert [name for _, name, _ in decoded] == ["tench", "goldfish", "great_white_shark"]
    assert keras_mobile.decode_predictions(np.zeros((0, 1000)), top=3) == []


def test_integer_and_float16_scores_are_accepted():
    preds = np.zeros((1, 1000), np.int64)
    preds[0, 281] = 3
    assert keras_mobile.decode_predictions(preds, top=1)[0][0] == ("n02123045", "tabby", 3.0)
    assert keras_mobile.decode_predictions(preds.astype(np.float16), top=1)[0][0][1] == "tabby"


@pytest.mark.parametrize("preds, top, message", [
    (np.zeros(1000), 5, "preds.shape=(1000,) is not supported; accepted values: (batch, 1000)"),
    (np.zeros((2, 10)), 5, "preds.shape=(2, 10) is not supported; accepted values: (batch, 1000)"),
    (np.zeros((1, 1, 1000)), 5, "preds.shape=(1, 1, 1000) is not supported"),
    (np.zeros((1, 1000), bool), 5, "preds.dtype='bool' is not supported; accepted values: a real number dtype"),
    (np.full((1, 1000), "a"), 5, "preds.dtype='str32' is not supported"),
    (np.zeros((1, 1000)), 0, "top=0 is not supported; accepted values: an integer"),
    (np.zeros((1, 1000)), 1001, "top=1001 is not supported; accepted values: an integer"),
    (np.zeros((1, 1000)), 2.0, "top=2.0 is not supported"),
    (np.zeros((1, 1000)), True, "top=True is not supported"),
    (np.zeros((1, 1000)), None, "top=None is not supported"),
])
def test_bad_input_names_the_argument_and_the_accepted_values(preds, top, message):
    with pytest.raises(ValueError) as error:
        keras_mobile.decode_predictions(preds, top=top)
    assert str(error.value).startswith(message)


def test_the_module_imports_no_keras():
    """Loaded on its own (not through ``keras_mobile.pretrained``, whose ``load_weights`` needs Keras)."""
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('imagenet_classes', {imagenet_classes.__file__!r})\n"
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
        "assert module.CLASS_NAMES[0] == 'tench'\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('keras', 'tf_keras', 'tensorflow', 'torch', 'jax'))\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, timeout=120)


def test_ids_match_tfds_imagenet2012_order_and_imagenet_resized_set():
    ours = [wnid for wnid, _ in imagenet_classes.load_class_names()]
    imagenet2012 = _package_file("tensorflow_datasets", "datasets", "imagenet2012", "labels.txt")
    resized = _package_file("tensorflow_datasets", "image_classification", "imagenet_resized_labels.txt")
    if imagenet2012 is None or resized is None:
        pytest.skip("tensorflow_datasets (its ImageNet label files) is not installed")
    assert _ids(imagenet2012) == ours  # the class-index order
    assert sorted(_ids(resized)) == sorted(ours)  # the same classes; imagenet_resized orders them differently


def test_the_shipped_file_is_what_the_tool_writes_from_timm():
    info_dir = _package_file("timm", "data", "_info")
    if info_dir is None:
        pytest.skip("timm is not installed")
    sys.path.insert(0, os.path.join(REPO, "tools"))
    try:
        import make_imagenet_classes
    finally:
        sys.path.remove(os.path.join(REPO, "tools"))
    with open(imagenet_classes.CLASSES_FILE, encoding="utf-8") as f:
        assert make_imagenet_classes.class_lines(info_dir) == f.readlines()


@pytest.mark.both_lines
def test_a_tensorflow_tensor_is_decoded():
    tf = pytest.importorskip("tensorflow")
    logits = np.full((2, 1000), -5.0, np.float32)
    logits[0, 1], logits[1, 999] = 5.0, 4.0
    probabilities = tf.nn.softmax(tf.constant(logits))
    decoded = keras_mobile.decode_predictions(probabilities, top=2)
    assert [result[0][:2] for result in decoded] == [("n01443537", "goldfish"), ("n15075141", "toilet_tissue")]
    assert decoded[0][0][2] == pytest.approx(float(probabilities[0, 1])) and decoded[0][0][2] > decoded[0][1][2]
