"""Magnitude and 2:4 pruning on Keras 3 (``compression.magnitude_pruning``): TF-MOT's schedule and counts,
every prunable kernel (depthwise, separable and grouped convs included), strip, TFLite, save / load, the JAX
backend (TensorFlow blocked), bad arguments. No TF-MOT: it would switch the process to tf_keras."""

import importlib.util
import json
import os
import sys
import textwrap

import numpy as np
import pytest
from helpers import python_env, random_images, run_python

from keras_mobile import backend, compression, tflite
from keras_mobile.compression import magnitude_pruning
from keras_mobile.compression.pruning_spec import PruningSchedule, kept, prunable_weights
from keras_mobile.registry import create_model

keras = backend.keras
STOCK = {"InputLayer", "Rescaling", "Conv2D", "DepthwiseConv2D", "BatchNormalization", "ReLU", "Add",
         "GlobalAveragePooling2D", "Dense", "Activation"}

# TF-MOT 0.8.1's own values, `(should_prune, sparsity)` of its schedule objects at each step, printed on the
# tf_keras line (TF-MOT cannot be imported here) with
# `PolynomialDecay(initial, final, begin, end, power=3, frequency)(step)` / `ConstantSparsity(...)(step)`.
TFMOT_SCHEDULES = [
    ((0.5, "polynomial_decay", 0.2, 1, 5, 2),
     {0: (False, 0.19999998807907104), 1: (True, 0.19999998807907104), 2: (False, 0.3734374940395355),
      3: (True, 0.4625000059604645), 4: (False, 0.49531251192092896), 5: (True, 0.5), 6: (False, 0.5)}),
    ((0.5, "polynomial_decay", 0.0, 0, 1000, 100),
     {1: (False, 0.001498490571975708), 100: (True, 0.13550004363059998), 250: (False, 0.2890625),
      300: (True, 0.32850000262260437), 500: (True, 0.4375), 900: (True, 0.49950000643730164), 1000: (True, 0.5),
      1100: (False, 0.5)}),
    ((0.8, "polynomial_decay", 0.1, 100, 400, 50),
     {50: (False, 0.10000002384185791), 100: (True, 0.10000002384185791), 150: (True, 0.39490747451782227),
      200: (True, 0.5925926566123962), 250: (True, 0.7125000357627869), 300: (True, 0.7740740776062012),
      350: (True, 0.7967592477798462), 400: (True, 0.800000011920929), 450: (False, 0.800000011920929)}),
    ((0.5, "constant", 0.0, 3, 4, 2),  # TF-MOT's ConstantSparsity(0.5, 3, end_step=-1, frequency=2): for ever
     {2: (False, 0.5), 3: (True, 0.5), 4: (False, 0.5), 5: (True, 0.5), 7: (True, 0.5), 1001: (True, 0.5)}),
]


def _small_model():
    """Every prunable kind: a 2-group conv (3 input channels per group: a short 2:4 group), a separable conv
    (depthwise + pointwise), a depthwise conv, a dense layer."""
    layers = keras.layers
    inputs = keras.Input((8, 8, 6))
    x = layers.Conv2D(8, 3, groups=2, padding="same", name="grouped")(inputs)
    x = layers.SeparableConv2D(12, 3, padding="same", name="separable")(x)
    x = layers.BatchNormalization(name="bn")(x)
    x = layers.DepthwiseConv2D(3, padding="same", name="depthwise")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(inputs, layers.Dense(5, name="dense")(x), name="small")


def _data(count, shape, classes, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(count, *shape)).astype("float32"), np.arange(count) % classes


def _kernels(model):
    """``{(layer, kernel name): numpy value}`` of every prunable kernel."""
    return {(layer.name, name): keras.ops.convert_to_numpy(variable)
            for layer in model.layers for name, variable in prunable_weights(layer)}


def _zeros_expected(size, sparsity):
    return size - kept(size, sparsity)


class _Recorder(keras.callbacks.Callback):
    """Zeros per kernel after every batch (listed after the pruning callback, so after its masks)."""

    def __init__(self):
        super().__init__()
        self.zeros = []

    def on_train_batch_end(self, batch, logs=None):
        self.zeros.append({key: int(np.sum(value == 0)) for key, value in _kernels(self.model).items()})


# --------------------------------------------------------------------------- the schedule, as TF-MOT's
@pytest.mark.parametrize("arguments, expected", TFMOT_SCHEDULES)
def test_schedule_is_tf_mot_to_the_bit(arguments, expected):
    target, schedule, initial, begin, end, frequency = arguments
    plan = PruningSchedule.from_arguments(target, None, schedule, initial, begin, end, frequency)
    for step, (updates, sparsity) in expected.items():
        assert plan.updates_at(step) == updates, step
        assert plan.sparsity(step) == np.float32(sparsity), step


def test_kept_counts_round_as_tf_mot():
    """TF-MOT keeps ``max(round(size * (1 - s)), 1)`` weights, rounding half to even (``tf.math.round``)."""
    assert [kept(9, 0.5), kept(11, 0.5), kept(10, 0.99), kept(432, 0.4375)] == [4, 6, 1, 243]
    mask = magnitude_pruning.magnitude_mask(np.arange(1.0, 10.0).reshape(3, 3), 0.5)
    np.testing.assert_array_equal(mask.reshape(-1), [0, 0, 0, 0, 0, 1, 1, 1, 1])  # 5 zeros: the smallest


def test_last_update_within_a_span_of_steps():
    plan = PruningSchedule.from_arguments(0.5, None, "polynomial_decay", 0.0, 1, 9, 2)
    assert [plan.last_update(0, 1), plan.last_update(1, 2), plan.last_update(1, 4), plan.last_update(8, 20)] == [
        1, None, 3, 9]
    assert plan.last_update(9, 20) is None  # nothing after end_step
    two_four = PruningSchedule.from_arguments(None, "2:4")
    assert [two_four.last_update(0, 1), two_four.last_update(0, 5), two_four.last_update(1, 5)] == [1, 1, None]


# --------------------------------------------------------------------------- MobileNetV2 through model.fit
@pytest.fixture(scope="module")
def mobilenet(tmp_path_factory):
    """mobilenetv2_035 pruned 0.2 -> 0.5 (updates at steps 1, 3, 5), fitted 5 steps, zeros recorded per step."""
    model = create_model("mobilenetv2_035", input_shape=(32, 32, 3), classes=10)
    pruned = compression.prune_model(model, 0.5, initial_sparsity=0.2, begin_step=1, end_step=5, frequency=2)
    pruned.compile(keras.optimizers.SGD(0.05), "sparse_categorical_crossentropy", run_eagerly=True)  # no tracing
    recorder, log_dir = _Recorder(), tmp_path_factory.mktemp("pruning_logs")
    images = random_images(32, batch=20)
    pruned.fit(images, np.arange(20) % 10, batch_size=4, epochs=1, verbose=0,
               callbacks=[*compression.pruning_callbacks(log_dir=log_dir), recorder])
    return {"model": model, "pruned": pruned, "zeros": recorder.zeros, "log_dir": log_dir, "images": images[:4]}


def test_every_prunable_kernel_follows_the_schedule_in_fit(mobilenet):
    pruned, zeros = mobilenet["pruned"], mobilenet["zeros"]
    plan = pruned.get_layer("pruning_state").schedule
    sizes = {key: value.size for key, value in _kernels(pruned).items()}
    assert {"Conv2D", "DepthwiseConv2D", "Dense"} == {type(pruned.get_layer(layer)).__name__ for layer, _ in sizes}
    assert len(sizes) == 53 and len(zeros) == 5
    for step, counts in enumerate(zeros, start=1):
        sparsity = plan.sparsity(plan.last_update(0, step))  # updates at 1, 3, 5: 0.2, 0.4625, 0.5
        assert counts == {key: _zeros_expected(size, sparsity) for key, size in sizes.items()}, step
    assert int(keras.ops.convert_to_numpy(pruned.get_layer("pruning_state").step)) == 5
    assert "tensorflow_model_optimization" not in sys.modules and not backend.IS_LEGACY_KERAS
    with open(os.path.join(mobilenet["log_dir"], magnitude_pruning.LOG_FILE), encoding="utf-8") as f:
        (record,) = [json.loads(line) for line in f]  # one epoch
    assert (record["epoch"], record["step"], record["sparsity"]) == (0, 5, 0.5) and len(record["masks"]) == 53
    assert all(value == pytest.approx(0.5, abs=0.01) for value in record["masks"].values())


def test_strip_gives_stock_layers_same_outputs_and_sparse_tflite(mobilenet):
    pruned = mobilenet["pruned"]
    stripped = compression.strip_pruning(pruned)
    assert {type(layer).__name__ for layer in stripped.layers} <= STOCK
    assert stripped.output_names == mobilenet["model"].output_names and pruned.output_names == ["pruning_state"]
    images = mobilenet["images"]
    outputs = [keras.ops.convert_to_numpy(m(images, training=False)) for m in (stripped, pruned)]  # same eager ops
    np.testing.assert_array_equal(*outputs)
    report = compression.sparsity_report(stripped)
    assert {row["type"] for row in report} == {"Conv2D", "DepthwiseConv2D", "Dense"}
    assert all(row["zeros"] == _zeros_expected(row["params"], 0.5) for row in report)
    assert "**total**" in compression.format_sparsity_report(report)
    assert compression.sparsity_report(pruned) == report  # the pruned model reports the same kernels

    rows = compression.tflite_weight_sparsity(tflite.convert_model(stripped, "fp32"))
    assert sum(row["type"] == "DEPTHWISE_CONV_2D" for row in rows) == 17
    assert {row["type"] for row in rows} == {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"}
    for row in rows:
        assert row["sparsity"] >= 0.49, row


# --------------------------------------------------------------------------- the small model
def test_custom_loop_masks_hold_between_updates():
    """``apply_pruning_step`` after each (simulated) optimizer step: updates at 2 and 4 (constant 50%), and
    the mask zeroes again what a step regrew; a jump over several steps uses the last update in it."""
    pruned = compression.prune_model(_small_model(), 0.5, schedule="constant", begin_step=2, frequency=2)
    state = pruned.get_layer("pruning_state")
    rng = np.random.default_rng(1)

    def regrow():  # what an optimizer step does: every weight moves, pruned ones too
        for variable in pruned.trainable_weights:
            variable.assign(keras.ops.convert_to_numpy(variable) + rng.normal(0, 0.01, variable.shape))

    assert compression.apply_pruning_step(pruned) is False  # step 1: no update, masks all ones
    assert all(np.all(value != 0) for value in _kernels(pruned).values())
    regrow()
    before = _kernels(pruned)
    assert compression.apply_pruning_step(pruned) is True  # step 2
    masks = [keras.ops.convert_to_numpy(mask).copy() for mask in state.masks]
    for (key, value), mask in zip(_kernels(pruned).items(), masks):
        assert np.sum(value == 0) == _zeros_expected(value.size, 0.5) == np.sum(mask == 0), key
        np.testing.assert_array_equal(value == 0, mask == 0)
        magnitudes = np.abs(before[key])
        assert magnitudes[mask == 1].min() >= magnitudes[mask == 0].max(), key  # the smallest went
    regrow()
    assert compression.apply_pruning_step(pruned) is False  # step 3: same masks, regrown weights zeroed again
    for value, mask in zip(_kernels(pruned).values(), masks):
        np.testing.assert_array_equal(value == 0, mask == 0)
    assert compression.apply_pruning_step(pruned, 9) is True  # steps 4..9 at once (steps_per_execution)
    assert int(keras.ops.convert_to_numpy(state.step)) == 9


def test_two_four_groups_along_input_channels():
    pruned = compression.prune_model(_small_model(), m_by_n=(2, 4), skip_layers=["dense"])
    assert [target[:2] for target in pruned.get_layer("pruning_state").targets] == [
        ("grouped", "kernel"), ("separable", "depthwise_kernel"), ("separable", "pointwise_kernel"),
        ("depthwise", "depthwise_kernel")]
    assert compression.apply_pruning_step(pruned) is True  # the 2:4 mask is chosen once, at step 1 (TF-MOT's rule)
    for (layer, name), value in _kernels(pruned).items():
        if layer == "dense":
            assert np.all(value != 0)  # skipped
            continue
        groups = np.moveaxis(value, -2, -1)  # input channels (a depthwise kernel's channels) last
        channels = groups.shape[-1]
        for start in range(0, channels, 4):
            nonzero = np.count_nonzero(groups[..., start:start + 4], axis=-1)
            assert np.all(nonzero == min(2, channels - start)), (layer, name, start)  # >= 2 zeros per full group
    assert compression.apply_pruning_step(pruned) is False


def test_fit_save_load_and_resume(tmp_path):
    """The pruning state (masks, step, schedule) survives ``model.save``; fitting the loaded model goes on."""
    pruned = compression.prune_model(_small_model(), 0.5, end_step=4, frequency=2)
    pruned.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy")  # compiled train step
    x, y = _data(12, (8, 8, 6), 5)
    pruned.fit(x, y, batch_size=4, verbose=0, callbacks=compression.pruning_callbacks())  # 3 steps: update at 2
    pruned.save(tmp_path / "pruned.keras")
    loaded = keras.saving.load_model(tmp_path / "pruned.keras")
    state, original = loaded.get_layer("pruning_state"), pruned.get_layer("pruning_state")
    assert state.schedule == original.schedule and state.targets == original.targets
    assert int(keras.ops.convert_to_numpy(state.step)) == 3
    for mask, saved in zip(original.masks, state.masks):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(mask), keras.ops.convert_to_numpy(saved))
    loaded.fit(x[:4], y[:4], batch_size=4, verbose=0, callbacks=compression.pruning_callbacks())  # step 4: 50%
    assert int(keras.ops.convert_to_numpy(state.step)) == 4
    for key, value in _kernels(loaded).items():
        assert np.sum(value == 0) == _zeros_expected(value.size, 0.5), key
    stripped = compression.strip_pruning(loaded)
    assert "PruningState" not in {type(layer).__name__ for layer in stripped.layers}


# --------------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"target_sparsity": 1.0}, r"target_sparsity=1.0 is not supported; accepted values: a number in \(0.0, 1.0\)"),
        ({"target_sparsity": 0.0}, r"target_sparsity=0.0 is not supported"),
        ({"target_sparsity": -0.5}, r"target_sparsity=-0.5 is not supported"),
        ({"m_by_n": (3, 2)}, r"m_by_n=\(3, 2\) is not supported; accepted values: .m:n. or a pair of ints"),
        ({}, r"pass exactly one of target_sparsity .* and m_by_n"),
        ({"target_sparsity": 0.5, "end_step": 150, "frequency": 100},
         r"end_step=150 is not supported with begin_step=0, frequency=100; "
         r"accepted values: begin_step \+ k \* frequency"),
        ({"target_sparsity": 0.5, "skip_layers": ["nope"]}, r"skip_layers names layers .* \['nope'\]"),
        ({"target_sparsity": 0.5, "skip_layers": ["grouped", "separable", "depthwise", "dense"]},
         r"no prunable kernel outside skip_layers"),
    ],
)
def test_argument_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        compression.prune_model(_small_model(), **kwargs)


def test_model_errors():
    class Subclassed(keras.Model):
        def call(self, inputs):
            return inputs

    with pytest.raises(TypeError, match=r"model 'subclassed' is a Subclassed; .*functional model"):
        compression.prune_model(Subclassed(name="subclassed"), 0.5)
    pruned = compression.prune_model(_small_model(), 0.5)
    with pytest.raises(ValueError, match=r"model 'small' is already pruned"):
        compression.prune_model(pruned, 0.5)
    for function in (compression.strip_pruning, compression.apply_pruning_step):
        with pytest.raises(ValueError, match=r"model 'small' is not pruned .*accepted: the model that"):
            function(_small_model())
    inputs = keras.Input((8, 8, 6))
    nested = keras.Model(inputs, _small_model()(inputs), name="outer")
    with pytest.raises(ValueError, match=r"layer 'small' of model 'outer' is a nested model"):
        compression.prune_model(nested, 0.5)


# --------------------------------------------------------------------------- other backends
_CHILD = textwrap.dedent('''
    import json, sys
    class _NoTensorFlow:  # the pruning path needs no TensorFlow (nor TF-MOT)
        def find_spec(self, name, path=None, target=None):
            if name == "tensorflow" or name.startswith("tensorflow.") or name == "tf_keras":
                raise ImportError("TensorFlow is blocked by the test")
    sys.meta_path.insert(0, _NoTensorFlow())
    import numpy as np, keras
    from keras_mobile import compression
    from keras_mobile.compression.pruning_spec import kept, prunable_weights
    L = keras.layers
    inputs = keras.Input((8, 8, 6))
    x = L.Conv2D(8, 3, groups=2, padding="same", name="grouped")(inputs)
    x = L.SeparableConv2D(12, 3, padding="same", name="separable")(x)
    x = L.DepthwiseConv2D(3, padding="same", name="depthwise")(L.BatchNormalization()(x))
    model = keras.Model(inputs, L.Dense(5, name="dense")(L.GlobalAveragePooling2D()(x)))
    pruned = compression.prune_model(model, 0.5, end_step=4, frequency=2)
    pruned.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    pruned.fit(rng.normal(size=(16, 8, 8, 6)).astype("float32"), np.arange(16) % 5, batch_size=4, verbose=0,
               callbacks=compression.pruning_callbacks())
    state = pruned.get_layer("pruning_state")
    kernels = []
    for (layer, weight, _), mask in zip(state.targets, state.masks):
        value = keras.ops.convert_to_numpy(dict(prunable_weights(pruned.get_layer(layer)))[weight])
        mask = keras.ops.convert_to_numpy(mask)
        kernels.append({"name": f"{layer}/{weight}", "zeros": int(np.sum(value == 0)),
                        "expected": value.size - kept(value.size, 0.5),
                        "masked_nonzero": int(np.sum(value[mask == 0] != 0))})
    print("RESULT" + json.dumps({"backend": keras.backend.backend(), "tensorflow": "tensorflow" in sys.modules,
                                 "step": int(keras.ops.convert_to_numpy(state.step)), "kernels": kernels}))
''')


@pytest.mark.slow
@pytest.mark.parametrize("backend_name", ["jax", "torch"])
def test_other_backend_fit_keeps_masks(backend_name):
    if importlib.util.find_spec(backend_name) is None:
        pytest.skip(f"{backend_name} is not installed: `pip install {backend_name}` runs this test")
    env = python_env(legacy=False, KERAS_BACKEND=backend_name, JAX_PLATFORMS="cpu",
                     XLA_FLAGS="--xla_backend_optimization_level=0")
    output = run_python(["-c", _CHILD], timeout=120, env=env).stdout
    result = json.loads(output.split("RESULT", 1)[1])
    assert result["backend"] == backend_name and not result["tensorflow"] and result["step"] == 4
    assert len(result["kernels"]) == 5
    for kernel in result["kernels"]:
        assert kernel["masked_nonzero"] == 0 and kernel["zeros"] == kernel["expected"], kernel
