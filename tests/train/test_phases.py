"""Compression phases of the harness: float -> prune -> (pruning-preserving) QAT -> verified int8 TFLite."""

import json
import os

import numpy as np
import pytest

import train_tpu
from helpers import python_env, run_python
from train_helpers import RESOLUTION, WORKER, config_from_argv, tiny_overrides
from train_tpu import driver
from train_tpu import phases as phases_lib

pytestmark = pytest.mark.tf_keras_line  # the harness and TF-MOT run on tf_keras


def _phase_overrides(default_data_dir, **extra):
    # A few steps of a tiny net at 32 px do not make it learn (measured: 60 steps left eval top-1 at chance, the
    # softmax within 0.002-0.22, on an AMD EPYC and an Intel Xeon alike), so the int8 arg-max among those
    # near-ties is a coin toss that differs between CPUs' kernels: the int8 exports are compared by max abs
    # difference alone (export.int8_min_top1_agreement=0), and this chain is checked for its plumbing.
    return tiny_overrides(default_data_dir, **{
        "train.train_steps": 16, "train.deterministic": True,
        "export.enabled": True, "export.formats": ["tflite_fp32", "tflite_int8"], "export.calibration_images": 16,
        "export.int8_min_top1_agreement": 0.0,
        "prune.enabled": True, "prune.epochs": 0.03, "prune.target_sparsity": 0.5,
        "qat.enabled": True, "qat.epochs": 0.03, "qat.distill_from_float": True,
        **extra,
    })


# Channel pruning first: the whole chain in one run (channel-pruned, then sparse, then int8), one float training.
CHAIN = {"channel_prune.mac_reduction": 0.3, "channel_prune.criterion": "taylor", "channel_prune.taylor_batches": 2,
         "channel_prune.epochs": 0.03}


@pytest.mark.slow
def test_float_channel_prune_prune_qat_phases_end_in_a_narrower_sparse_full_integer_tflite(tmp_path, default_data_dir):
    from keras_mobile import compression, profile_model

    config = train_tpu.resolve_config("default", overrides=_phase_overrides(default_data_dir, **CHAIN),
                                      model_dir=str(tmp_path))
    summary = train_tpu.run(config)
    narrow, prune, qat = (summary["phases"][name] for name in ("channel_prune", "prune", "qat"))

    # Each phase trained its own steps in its own directory, from the previous phase's checkpoint.
    assert summary["train"]["final_step"] == 16
    assert narrow["train"]["final_step"] == prune["train"]["final_step"] == qat["train"]["final_step"] == 6  # ceil(0.03 * 187)
    assert prune["artifacts"]["model_dir"] == str(tmp_path / "prune")
    assert os.path.isfile(tmp_path / "qat" / "summary.json") and os.path.isfile(tmp_path / "prune" / "config.yaml")
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert list(on_disk["phases"]) == ["channel_prune", "prune", "qat"]

    # The channel_prune phase removed 30% of the float model's Mult-Adds (taylor, on training batches),
    # distilled from the float model; its summary, its report and the architecture it wrote agree.
    assert narrow["channel_pruning"]["criterion"] == "taylor" and narrow["distillation_teacher"] == "float phase"
    assert narrow["channel_pruning"]["mult_adds_before"] == summary["mult_adds"]
    assert 0.3 <= narrow["channel_pruning"]["mac_reduction"] < 0.33
    assert narrow["mult_adds"] == narrow["channel_pruning"]["mult_adds_after"]
    assert narrow["trainable_params"] == narrow["channel_pruning"]["params_after"] < summary["trainable_params"]
    report = json.loads((tmp_path / "channel_prune" / "channel_pruning.json").read_text())
    assert report["mult_adds_after"] == narrow["mult_adds"] and report["layers"]
    architecture = phases_lib.create_phase(config, "channel_prune").architecture(10, RESOLUTION)
    assert profile_model(architecture).mult_adds == narrow["mult_adds"]
    # The later phases trained that architecture: the int8 file's conv / depthwise / dense filters hold
    # exactly its kernels' weights.
    kernels = sorted(int(np.prod(layer.weights[0].shape)) for layer in architecture.layers
                     if type(layer).__name__ in ("Conv2D", "DepthwiseConv2D", "Dense"))
    content = (tmp_path / "qat" / "export" / "model_int8.tflite").read_bytes()
    assert sorted(r["params"] for r in compression.tflite_weight_sparsity(content)
                  if "quant_preprocess/" not in r["layer"]) == kernels

    # Pruning reached the target in every prunable kernel, depthwise included, and the export is plain layers.
    report = json.loads((tmp_path / "prune" / "sparsity.json").read_text())
    assert {row["type"] for row in report} >= {"Conv2D", "DepthwiseConv2D", "Dense"}
    assert all(row["sparsity"] >= 0.49 for row in report), [r for r in report if r["sparsity"] < 0.49]
    assert prune["sparsity"]["min_layer"] >= 0.49

    # The QAT phase exports only the int8 model, converted from the fake-quant ranges, checked against the
    # QAT Keras model, evaluated on the eval split; builtin ops, no float tensor.
    assert set(qat["export"]["formats"]) == {"tflite_int8"}
    entry = qat["export"]["formats"]["tflite_int8"]
    # by tolerance: every output within 0.25 of the QAT Keras model's (the export's int8 check; measured 0.03)
    assert 0 < entry["max_abs_diff"] <= 0.25 and entry["gzip_bytes"] < entry["bytes"]
    content = (tmp_path / "qat" / "export" / "model_int8.tflite").read_bytes()
    compression.check_full_integer(content, "phase qat")
    report = json.loads((tmp_path / "qat" / "export" / "export_report.json").read_text())
    assert report["formats"]["tflite_int8"]["runtime"] == "ai_edge_litert"
    # Pruning-preserving QAT: the zeros survive into every int8 conv, depthwise and dense filter (all but the
    # input Rescaling, a frozen 1x1 depthwise conv in the QAT copy).
    rows = [r for r in compression.tflite_weight_sparsity(content) if "quant_preprocess/" not in r["layer"]]
    assert {r["type"] for r in rows} == {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"}
    assert min(r["sparsity"] for r in rows) >= 0.49, [r for r in rows if r["sparsity"] < 0.49]
    # Eval of the int8 file matches what LiteRT computes over the eval split by hand.
    assert qat["export"]["formats"]["tflite_int8"]["eval_top1"] == pytest.approx(
        _tflite_top1(content, default_data_dir), abs=1e-9)
    # ... and so does the float phase's post-training int8 file (the baseline QAT is compared with).
    float_int8 = (tmp_path / "export" / "model_int8.tflite").read_bytes()
    assert summary["export"]["formats"]["tflite_int8"]["eval_top1"] == pytest.approx(
        _tflite_top1(float_int8, default_data_dir), abs=1e-9)

    # Running the same config again resumes: no phase trains again, the architecture is read, not pruned again.
    mtime = os.path.getmtime(tmp_path / "channel_prune" / "architecture.json")
    again = train_tpu.run(train_tpu.resolve_config("default", overrides={**_phase_overrides(default_data_dir, **CHAIN),
                                                                       "export.enabled": False},
                                                   model_dir=str(tmp_path)))
    for s in (again, *again["phases"].values()):
        assert s["train"]["start_step"] == s["train"]["final_step"]
    assert os.path.getmtime(tmp_path / "channel_prune" / "architecture.json") == mtime
    assert again["phases"]["channel_prune"]["channel_pruning"] == narrow["channel_pruning"]


def _tflite_top1(content, default_data_dir):
    import tfds_configs
    from keras_mobile import tflite

    source = tfds_configs.load("default", data_dir=default_data_dir)
    ds = tfds_configs.eval_input(source, global_batch_size=100, image_size=32, normalization="raw")
    runner = tflite.Runner(content)
    hits = [runner(x.numpy()).argmax(-1) == y.numpy().reshape(-1) for x, y in ds]
    return float(np.mean(np.concatenate(hits)))


def test_phase_config_fine_tunes_in_float32_without_ema(tmp_path):
    config = train_tpu.resolve_config("default", overrides={"prune.enabled": True, "qat.enabled": True,
                                                           "qat.lr": 1e-4, "runtime.xla": True},
                                      model_dir=str(tmp_path))
    assert phases_lib.enabled_phases(config) == ["float", "prune", "qat"]
    prune = phases_lib.phase_config(config, "prune")
    qat = phases_lib.phase_config(config, "qat")
    assert prune.model_dir == str(tmp_path / "prune") and qat.model_dir == str(tmp_path / "qat")
    assert prune.optimizer.lr == pytest.approx(config.optimizer.lr / 5) and qat.optimizer.lr == 1e-4
    for c in (prune, qat):
        assert c.train.ema_decay == 0.0 and c.runtime.mixed_precision == "float32" and not c.runtime.xla
        assert c.schedule.name == "cosine" and c.schedule.warmup_epochs == 0.0 and c.train.train_steps is None
    assert prune.train.epochs == config.prune.epochs and qat.export.formats == ("tflite_int8",)
    assert phases_lib.create_phase(config, "qat").previous == "prune"
    only_qat = train_tpu.resolve_config("default", overrides={"qat.enabled": True}, model_dir=str(tmp_path))
    assert phases_lib.create_phase(only_qat, "qat").previous == "float"
    assert phases_lib.create_phase(only_qat, "float").previous is None


@pytest.mark.parametrize("ramp, total, per_epoch, frequency, expected", [
    (0.5, 6, 187, None, (3, 3)),      # a tiny phase: one update at the end of the ramp
    (0.5, 935, 187, None, (460, 46)),  # 5 epochs: every quarter epoch, the last update on end_step
    (0.6, 100, 10, 7, (56, 7)),
])
def test_pruning_steps_end_on_a_mask_update(ramp, total, per_epoch, frequency, expected):
    prune = train_tpu.Config().prune
    prune.ramp_fraction, prune.frequency_steps = ramp, frequency
    end_step, freq = phases_lib.pruning_schedule(prune, total, per_epoch)
    assert (end_step, freq) == expected and end_step % freq == 0


@pytest.mark.parametrize("override, message", [
    ("prune.m_by_n='4:2'", "prune.m_by_n='4:2' is not supported; accepted values: 'm:n' or a pair of ints (m, n) "
                           "with 1 <= m < n"),
    ("prune.m_by_n=2:4", "prune.m_by_n=124 is not supported; accepted values: a string such as '2:4' (YAML reads "
                         "an unquoted 2:4 as a base-60 number"),
    ("prune.target_sparsity=1.0", "prune.target_sparsity=1.0 is not supported; accepted values: a number in (0, 1)."),
    ("prune.schedule=cubic", "prune.schedule='cubic' is not supported; accepted values: ['polynomial_decay', "
                             "'constant']."),
    ("qat.epochs=0", "qat.epochs=0.0 is not supported; accepted values: a number > 0."),
])
def test_phase_config_errors_name_the_key(override, message):
    with pytest.raises(ValueError) as error:
        train_tpu.resolve_config("default", overrides=[override])
    assert message in str(error.value)


def test_phase_flags(tmp_path):
    argv = ["train_tpu", "--prune", "--m_by_n=2:4", "--prune_epochs=2", "--qat", "--qat_lr=0.001",
            "--distill_from_float", f"--model_dir={tmp_path}"]
    config = config_from_argv(argv)
    assert config.prune.enabled and config.prune.m_by_n == "2:4" and config.prune.epochs == 2.0
    assert config.prune.m_by_n_pair == (2, 4)  # parsed in one place, for the phase
    assert config.qat.enabled and config.qat.lr == 0.001
    assert config.prune.distill_from_float and config.qat.distill_from_float


def test_next_phase_needs_the_previous_checkpoint(tmp_path, default_data_dir):
    config = train_tpu.resolve_config("default", overrides=_phase_overrides(default_data_dir), model_dir=str(tmp_path))
    with pytest.raises(ValueError, match=r"phase 'float' has no checkpoint in .*; it must finish before the next"):
        driver.make_trainer(config, "prune")


@pytest.mark.exhaustive  # ~2.5 min of the CI budget; CI keeps mirrored float training (test_distributed.py)
@pytest.mark.slow
def test_phases_under_mirrored_strategy(tmp_path, default_data_dir):
    # Not in deterministic mode: with op determinism on, the QAT phase under MirroredStrategy over 2 logical
    # CPUs makes the weights non-finite by step 12 (reproducible; the same phases on one device are fine).
    # Open, noted on the test-suite issue.
    # 12 float steps: nothing is exported, so the float model need not be past its near-uniform outputs.
    overrides = _phase_overrides(default_data_dir, **{"export.enabled": False, "train.batch_size": 8,
                                                      "train.train_steps": 12, "prune.m_by_n": "2:4",
                                                      "train.deterministic": False})
    out = str(tmp_path / "phases.npz")
    # TensorFlow 2.21's oneDNN graph rewrite breaks inference over 2 logical CPU devices: each replica's
    # first depthwise conv of the eval step gets the 3-channel image ("input depth must be evenly divisible
    # by filter depth: 3 vs 16"); training steps are unaffected, and with the rewrite off the run is right.
    # Logical CPU devices are this test's stand-in for GPUs, where oneDNN does not run.
    env = python_env(TF_ENABLE_ONEDNN_OPTS="0")
    # TensorFlow's start, 3 phases of 12 steps, TF-MOT wrapping: ~100 s alone; 300 s is a hang.
    run_python([WORKER, "phases_mirrored", out, json.dumps({**overrides, "model_dir": str(tmp_path / "run")})],
               timeout=300, env=env)
    r = np.load(out)
    assert int(r["replicas"]) == 2
    assert int(r["prune_steps"]) == int(r["qat_steps"]) == 12  # ceil(0.03 * 375)
    # 2:4 in every prunable kernel whose input channels are a multiple of 4 (the 3-channel stem is not).
    assert float(r["prune_min_sparsity_except_stem"]) >= 0.5
