"""Preemption: kill -9 mid-run, the same command resumes from the last checkpoint and, in deterministic
mode, ends with the same weights (model, EMA, optimizer, step) as an uninterrupted run."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from train_helpers import REPO, run_python, subprocess_env, tiny_overrides

TOTAL = 36
EVERY = 4


def _command(data_dir, model_dir):
    overrides = tiny_overrides(data_dir, **{"train.train_steps": TOTAL, "train.checkpoint_every_steps": EVERY,
                                            "train.deterministic": True, "train.ema_decay": 0.9,
                                            "optimizer.name": "rmsprop", "optimizer.lr": 0.01,
                                            "optimizer.weight_decay": 1e-4, "model.dropout_rate": 0.0,
                                            "schedule.name": "cosine", "schedule.warmup_epochs": 0.1})
    args = ["-m", "train_tpu", f"--model_dir={model_dir}", "--mode=train"]
    for key, value in overrides.items():
        value = "null" if value is None else (str(value).lower() if isinstance(value, bool) else value)
        args += ["--set", f"{key}={value}"]
    return args


def _latest_step(model_dir):
    path = tf.train.latest_checkpoint(os.path.join(model_dir, "checkpoints"))
    return int(path.rsplit("-", 1)[1]) if path else 0


def _variables(model_dir):
    reader = tf.train.load_checkpoint(os.path.join(model_dir, "checkpoints", f"ckpt-{TOTAL}"))
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
            if not name.startswith("_CHECKPOINTABLE_OBJECT_GRAPH")}


@pytest.mark.slow
def test_kill_9_then_resume_matches_uninterrupted_run(tmp_path, data_dir):
    straight, killed = str(tmp_path / "straight"), str(tmp_path / "killed")
    run_python(_command(data_dir, straight), timeout=400)

    proc = subprocess.Popen([sys.executable, *_command(data_dir, killed)], cwd=REPO, env=subprocess_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    try:
        while _latest_step(killed) < 2 * EVERY and proc.poll() is None and time.time() < deadline:
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    saved = _latest_step(killed)
    assert EVERY <= saved < TOTAL

    resumed = run_python(_command(data_dir, killed), timeout=400)
    assert f"at step {saved}" in resumed.stdout  # "Resuming from .../ckpt-N at step N (epoch E)."
    a, b = _variables(straight), _variables(killed)
    assert a.keys() == b.keys() and any("ema_model" in k for k in a) and any("optimizer" in k for k in a)
    for name in a:
        np.testing.assert_allclose(b[name], a[name], rtol=0, atol=1e-6, err_msg=name)
