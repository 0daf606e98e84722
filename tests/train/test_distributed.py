"""Distribution: MirroredStrategy over 2 logical CPUs == one device with the same global batch (with and
without distillation); a two-worker MultiWorkerMirroredStrategy run on 127.0.0.1 completes and the workers
agree."""

import json
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from helpers import REPO, child_timeout, python_env, run_python
from train_helpers import WORKER, tiny_overrides

pytestmark = pytest.mark.tf_keras_line  # the harness runs on tf_keras


@pytest.mark.slow
def test_mirrored_two_cpus_matches_one_device(tmp_path, default_data_dir):
    # Synchronized BN: per-replica batch statistics would differ from global-batch ones by definition.
    base = tiny_overrides(default_data_dir, **{"model.sync_batch_norm": True, "train.batch_size": 8,
                                               "optimizer.lr": 0.005})
    # The distillation case: student and teacher both run per replica, and the step is the plain one plus
    # the teacher's term (the plain step alone is the float phase of every other mirrored run).
    cases = {"distill": {**base, "_teacher_path": str(tmp_path / "teacher.keras"), "distill.temperature": 2.0,
                         "distill.loss_weight": 0.7}}
    out = str(tmp_path / "one_step.npz")
    # One process: TensorFlow's start, 2 model builds and 2 traced steps.
    run_python([WORKER, "one_step", out, json.dumps(cases)], timeout=300, env=python_env(legacy=True))
    r = np.load(out)
    for case in cases:
        assert int(r[f"{case}_one_replicas"]) == 1 and int(r[f"{case}_mirrored_replicas"]) == 2
        # Loss: 5e-5 (float32 synchronized-BN statistics are reduced in a different order over 2 replicas);
        # updated weights: 1e-5.
        one, mirrored = float(r[f"{case}_one_loss"]), float(r[f"{case}_mirrored_loss"])
        assert abs(one - mirrored) <= 5e-5, (case, one, mirrored)
        count = int(r[f"{case}_initial_count"])
        worst = max(float(np.max(np.abs(r[f"{case}_one_w{i}"] - r[f"{case}_mirrored_w{i}"]))) for i in range(count))
        assert worst <= 1e-5, (case, worst)


def _free_ports(n):
    """``n`` ports free at the time of asking (the children bind them later: see the retry below)."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _run_two_workers(tmp_path, overrides, timeout):
    """Start both workers on fresh ports; returns ``[(returncode, stdout, stderr)]`` per worker."""
    cluster = {"worker": [f"127.0.0.1:{p}" for p in _free_ports(2)]}
    procs = []
    for index in range(2):
        env = python_env(legacy=True, TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
        procs.append(subprocess.Popen(
            [sys.executable, WORKER, "multi_worker", str(tmp_path / f"w{index}.npz"), json.dumps(overrides)],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    timeout = child_timeout(timeout)
    deadline = time.monotonic() + timeout
    results = []
    try:
        for p in procs:
            try:
                out, err = p.communicate(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                for q in procs:
                    q.kill()
                out, err = p.communicate()
                raise AssertionError(f"worker timed out after {timeout} s\n--- stdout ---\n{out[-3000:]}\n"
                                     f"--- stderr ---\n{err[-6000:]}") from None
            results.append((p.returncode, out, err))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    return results


@pytest.mark.slow
def test_two_workers_on_localhost_agree(tmp_path, default_data_dir):
    model_dir = str(tmp_path / "run")
    overrides = tiny_overrides(default_data_dir, **{"model_dir": model_dir, "runtime.strategy": "multi_worker",
                                                    "train.train_steps": 3, "train.checkpoint_every_steps": 3})
    # The ports are free when picked but bound by the children seconds later; if another process took one
    # in between, the run fails to bind, and is tried again on new ports (twice at most).
    for attempt in range(3):
        results = _run_two_workers(tmp_path, overrides, timeout=300)
        if not any(code and "already in use" in err.lower() for code, _, err in results):
            break
    for index, (code, out, err) in enumerate(results):
        assert code == 0, f"worker {index} exited {code}\n{err[-6000:]}"
    w0, w1 = np.load(tmp_path / "w0.npz"), np.load(tmp_path / "w1.npz")
    assert str(w0["strategy"]) in ("MultiWorkerMirroredStrategy", "CollectiveAllReduceStrategy")
    assert int(w0["replicas"]) == 2
    assert int(w0["final_step"]) == int(w1["final_step"]) == 3
    keys = [k for k in w0.files if k.startswith("w")]
    assert keys and all(np.array_equal(w0[k], w1[k]) for k in keys)
    # Only the chief's checkpoint persists in model_dir; the other worker saved into its own temporary folder
    # (saving is a collective), which is gone.
    assert os.path.exists(os.path.join(model_dir, "checkpoints", "ckpt-3.index"))
    assert os.listdir(os.path.join(model_dir, ".tmp_workers")) == []
