"""Preemption: kill -9 mid-run, the same command resumes from the last checkpoint and, in deterministic
mode, ends with the same weights (model, EMA, optimizer, step) as an uninterrupted run."""

import json
import os
import signal

import numpy as np
import pytest
import tensorflow as tf

from helpers import python_env, run_python
from train_helpers import WORKER, tiny_overrides

pytestmark = pytest.mark.tf_keras_line  # the harness runs on tf_keras

TOTAL = 12
EVERY = 4
KILLED_AFTER = 2 * EVERY
# Each run: TensorFlow's start, one model, a traced step, <= 12 steps at 32 px: ~40 s alone.
RUN_TIMEOUT = 240


def _flags(default_data_dir, model_dir):
    overrides = tiny_overrides(default_data_dir, **{"train.train_steps": TOTAL, "train.checkpoint_every_steps": EVERY,
                                                    "train.deterministic": True, "train.ema_decay": 0.9,
                                                    "optimizer.name": "rmsprop", "optimizer.lr": 0.01,
                                                    "optimizer.weight_decay": 1e-4, "model.dropout_rate": 0.0,
                                                    "schedule.name": "cosine", "schedule.warmup_epochs": 0.01})
    flags = [f"--model_dir={model_dir}", "--mode=train"]
    for key, value in overrides.items():
        value = "null" if value is None else (str(value).lower() if isinstance(value, bool) else value)
        flags += ["--set", f"{key}={value}"]
    return flags


def _latest_step(model_dir):
    path = tf.train.latest_checkpoint(os.path.join(model_dir, "checkpoints"))
    return int(path.rsplit("-", 1)[1]) if path else 0


def _variables(model_dir):
    reader = tf.train.load_checkpoint(os.path.join(model_dir, "checkpoints", f"ckpt-{TOTAL}"))
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
            if not name.startswith("_CHECKPOINTABLE_OBJECT_GRAPH")}


@pytest.mark.slow
def test_kill_9_then_resume_matches_uninterrupted_run(tmp_path, default_data_dir):
    straight, killed = str(tmp_path / "straight"), str(tmp_path / "killed")
    env = python_env(legacy=True)
    run_python(["-m", "train_tpu", *_flags(default_data_dir, straight)], timeout=RUN_TIMEOUT, env=env)

    # Killed from inside right after the checkpoint of step 8 is written: mid-run, at a known step.
    spec = {"argv": _flags(default_data_dir, killed), "kill_after_step": KILLED_AFTER}
    died = run_python([WORKER, "kill_after_save", "-", json.dumps(spec)], timeout=RUN_TIMEOUT, env=env, check=False)
    assert died.returncode == -signal.SIGKILL, f"exit {died.returncode}\n{died.stderr[-3000:]}"
    assert _latest_step(killed) == KILLED_AFTER

    resumed = run_python(["-m", "train_tpu", *_flags(default_data_dir, killed)], timeout=RUN_TIMEOUT, env=env)
    assert f"at step {KILLED_AFTER}" in resumed.stdout  # "Resuming from .../ckpt-N at step N (epoch E)."
    a, b = _variables(straight), _variables(killed)
    assert a.keys() == b.keys() and any("ema_model" in k for k in a) and any("optimizer" in k for k in a)
    for name in a:
        np.testing.assert_allclose(b[name], a[name], rtol=0, atol=1e-6, err_msg=name)
