"""Helpers shared by the test suite (a plain module: tests import it by name, ``from helpers import ...``).

Which models a test samples:

* ``ALL_MODELS``: every registered variant (pinned figures and layer checks; the exhaustive tier).
* ``REPRESENTATIVES``: one variant per family, the smallest that still has the family's special layers
  (for the heavier checks: export, QAT, other backends, feature maps).
* ``STRUCTURAL_VARIANTS``: the representatives plus every variant whose block structure differs from its
  family's representative (not just its width); the ``.keras`` round trip runs on these.
"""

import os
import re
import subprocess
import sys

import numpy as np

from keras_mobile import backend
from keras_mobile.registry import list_models, model_info

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LEGACY = backend.IS_LEGACY_KERAS
keras = backend.keras

ALL_MODELS = list_models()

# family -> its smallest variant that has the family's special layers: MobileNetV3 with squeeze-excite and
# hard-swish (not minimalistic), ShuffleNetV1 with grouped 1x1 convs and a channel shuffle (groups > 1; g3 is
# the paper's default and the fewest Mult-Adds of the 0.5x models), SqueezeNet 1.1 (fewer Mult-Adds than 1.0).
REPRESENTATIVES = {
    "mixnet": "mixnet_s",
    "mobilenetv1": "mobilenetv1_025",
    "mobilenetv2": "mobilenetv2_035",
    "mobilenetv3": "mobilenetv3_small_075",
    "mobilenext": "mobilenext_035",
    "rexnet": "rexnet_100",
    "shufflenet_v1": "shufflenet_v1_g3_050",
    "shufflenet_v2": "shufflenet_v2_x0_5",
    "squeezenet": "squeezenet1_1",
    "xception": "xception",
}

# Variants whose blocks differ from their representative's, not only in width: MobileNetV3 Large and the
# minimalistic variants (no SE, no hard-swish, 3x3 kernels), ShuffleNetV1 per group count (g1 has no grouped
# conv and no shuffle), SqueezeNet 1.0 (7x7 stem, other pool positions), MixNet-M (other kernel mixes;
# MixNet-L is MixNet-M at width 1.3).
STRUCTURAL_VARIANTS = sorted(
    set(REPRESENTATIVES.values())
    | {
        "mobilenetv3_large_075",
        "mobilenetv3_large_minimal_075",
        "mobilenetv3_small_minimal_075",
        "shufflenet_v1_g1_050",
        "shufflenet_v1_g2_050",
        "shufflenet_v1_g4_050",
        "shufflenet_v1_g8_050",
        "squeezenet1_0",
        "mixnet_m",
    }
)


def families():
    """Every registered family, sorted."""
    return sorted({model_info(name).family for name in ALL_MODELS})


def small_resolution(name):
    """The smallest resolution the model builds at (fast tests)."""
    return model_info(name).min_resolution


def random_images(resolution, batch=2, seed=0):
    """RGB images in [0, 255], the package's input convention."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 255, (batch, resolution, resolution, 3)).astype("float32")


def randomize_weights(model, seed=0):
    """Give every weight random values (BN variances positive) so comparisons are meaningful."""
    rng = np.random.default_rng(seed)
    values = []
    for weight in model.weights:
        shape = tuple(weight.shape)
        name = getattr(weight, "path", None) or weight.name
        if "variance" in name:
            values.append(rng.uniform(0.5, 1.5, shape).astype("float32"))
        else:
            values.append(rng.normal(0.0, 0.1, shape).astype("float32"))
    model.set_weights(values)
    return model


def python_env(legacy=None, **extra):
    """This process's environment for a child ``python``: the repo importable, TensorFlow's C++ logs quiet.

    ``legacy`` True / False sets / removes ``TF_USE_LEGACY_KERAS``; None keeps this process's setting.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [REPO, env.get("PYTHONPATH", "")]))
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    if legacy is True:
        env["TF_USE_LEGACY_KERAS"] = "1"
    elif legacy is False:
        env.pop("TF_USE_LEGACY_KERAS", None)
    env.update(extra)
    return env


def child_timeout(seconds):
    """``seconds`` (sized for an idle 2-core machine) times ``KERAS_MOBILE_TEST_TIMEOUT_SCALE`` (default 1):
    raise it on a slower or busy machine, or under coverage, which traces the children too."""
    return seconds * float(os.environ.get("KERAS_MOBILE_TEST_TIMEOUT_SCALE", "1"))


def _tail(text, limit):
    text = text.decode(errors="replace") if isinstance(text, bytes) else (text or "")
    return text[-limit:]


def run_python(args, timeout, env=None, check=True):
    """Run ``python args...`` from the repo root, output captured; returns the CompletedProcess.

    ``timeout`` (seconds) is sized by the caller to the child's work: past it the child is killed and the
    test fails with the child's own output, so a hang names itself. With ``check`` a non-zero exit fails
    the test the same way.
    """
    command = [sys.executable, *args]
    timeout = child_timeout(timeout)
    try:
        result = subprocess.run(command, cwd=REPO, env=env or python_env(), capture_output=True, text=True,
                                timeout=timeout)
    except subprocess.TimeoutExpired as expired:
        raise AssertionError(
            f"child timed out after {timeout} s: {' '.join(command)[:300]}\n"
            f"--- stdout (tail) ---\n{_tail(expired.stdout, 3000)}\n--- stderr (tail) ---\n{_tail(expired.stderr, 6000)}"
        ) from None
    if check and result.returncode != 0:
        raise AssertionError(
            f"child exited {result.returncode}: {' '.join(command)[:300]}\n"
            f"--- stdout (tail) ---\n{_tail(result.stdout, 3000)}\n--- stderr (tail) ---\n{_tail(result.stderr, 6000)}"
        )
    return result


# What TensorFlow's C++ runtime writes straight to the stderr of any process that imports it, whatever the
# command did: absl's notice before its log is initialised, and glog-format lines from C++ sources.
_RUNTIME_LOG_LINE = re.compile(r"^(WARNING: All log messages before absl::InitializeLog\(\) is called"
                               r"|[IWEF]\d{4} [\d:.]+ +\d+ \S+\.(cc|h):\d+\])")


def command_error_lines(stderr):
    """The non-empty lines a command wrote to stderr, TensorFlow's runtime log lines left out."""
    return [line for line in stderr.splitlines() if line.strip() and not _RUNTIME_LOG_LINE.match(line)]


COLOUR_CLASSES = {"blue": (20, 40, 220), "green": (30, 200, 40), "red": (220, 30, 30)}


def make_image_folder(root, per_class=20, seed=0):
    """A folder of real image files, one sub-folder per colour class (JPEG, every 4th a PNG): plain colours with
    a brighter square at a random place and size, so classes are learnable and images differ."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    for name, colour in COLOUR_CLASSES.items():
        os.makedirs(os.path.join(root, name), exist_ok=True)
        for i in range(per_class):
            height, width = (int(v) for v in rng.integers(40, 90, size=2))
            image = np.full((height, width, 3), colour, np.uint8)
            side = int(rng.integers(8, min(height, width) // 2))
            top, left = int(rng.integers(0, height - side)), int(rng.integers(0, width - side))
            image[top:top + side, left:left + side] = np.minimum(np.asarray(colour) + 35, 255)
            png = i % 4 == 0
            data = (tf.io.encode_png if png else tf.io.encode_jpeg)(image).numpy()
            with open(os.path.join(root, name, f"{i:03d}.{'png' if png else 'jpg'}"), "wb") as f:
                f.write(data)
    return root


def assert_topk_matches(reported, scores, labels, k=1, tie=1e-4):
    """A top-``k`` accuracy recomputed by hand from ``scores`` equals ``reported``, up to the images whose k-th
    and (k+1)-th scores lie within ``tie`` (relative to the largest score) of each other: two computations of
    the same model (another batch size, graph or eager, another CPU's kernels) round differently, and such a
    near-tie can rank either way. Every other image must rank the same."""
    scores, labels = np.asarray(scores, "float64"), np.asarray(labels).reshape(-1)
    ranked = np.sort(scores, axis=-1)[:, ::-1]
    scale = max(1.0, float(np.abs(scores).max()))
    near_ties = int(np.sum(ranked[:, k - 1] - ranked[:, k] <= tie * scale)) if scores.shape[-1] > k else 0
    top = np.argsort(-scores, axis=-1, kind="stable")[:, :k]
    hits = int(np.sum((top == labels[:, None]).any(axis=-1)))
    assert abs(reported * len(labels) - hits) <= near_ties + 1e-6, (reported, hits / len(labels), near_ties)
