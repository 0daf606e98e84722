"""Distribution: MirroredStrategy over 2 logical CPUs == one device with the same global batch;
a two-worker MultiWorkerMirroredStrategy run on 127.0.0.1 completes and the workers agree."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from train_helpers import REPO, WORKER, run_python, subprocess_env, tiny_overrides


def _one_step(tmp_path, data_dir, **extra):
    overrides = tiny_overrides(data_dir, **{"model.sync_batch_norm": True, "train.batch_size": 8,
                                            "optimizer.lr": 0.005}, **extra)
    out = str(tmp_path / "one_step.npz")
    run_python([WORKER, "one_step", out, json.dumps(overrides)])
    return np.load(out)


def _assert_same_step(r):
    assert int(r["one_replicas"]) == 1 and int(r["mirrored_replicas"]) == 2
    # Loss: 5e-5 (float32 synchronized-BN statistics are reduced in a different order over 2 replicas);
    # updated weights: 1e-5.
    assert abs(float(r["one_loss"]) - float(r["mirrored_loss"])) <= 5e-5, (r["one_loss"], r["mirrored_loss"])
    count = int(r["initial_count"])
    worst = max(float(np.max(np.abs(r[f"one_w{i}"] - r[f"mirrored_w{i}"]))) for i in range(count))
    assert worst <= 1e-5, worst


@pytest.mark.slow
def test_mirrored_two_cpus_matches_one_device(tmp_path, data_dir):
    # Synchronized BN: per-replica batch statistics would differ from global-batch ones by definition.
    _assert_same_step(_one_step(tmp_path, data_dir))


@pytest.mark.slow
def test_mirrored_two_cpus_matches_one_device_with_distillation(tmp_path, data_dir):
    r = _one_step(tmp_path, data_dir, _teacher_path=str(tmp_path / "teacher.keras"),
                  **{"distill.temperature": 2.0, "distill.loss_weight": 0.7})
    _assert_same_step(r)


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_two_workers_on_localhost_agree(tmp_path, data_dir):
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    model_dir = str(tmp_path / "run")
    overrides = tiny_overrides(data_dir, **{"model_dir": model_dir, "runtime.strategy": "multi_worker",
                                            "train.train_steps": 3, "train.checkpoint_every_steps": 3})
    procs = []
    for index in range(2):
        env = subprocess_env(TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
        procs.append(subprocess.Popen(
            [sys.executable, WORKER, "multi_worker", str(tmp_path / f"w{index}.npz"), json.dumps(overrides)],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = []
    try:
        for p in procs:
            outputs.append(p.communicate(timeout=240))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (out, err) in zip(procs, outputs):
        assert p.returncode == 0, err[-5000:]
    w0, w1 = np.load(tmp_path / "w0.npz"), np.load(tmp_path / "w1.npz")
    assert str(w0["strategy"]) in ("MultiWorkerMirroredStrategy", "CollectiveAllReduceStrategy")
    assert int(w0["replicas"]) == 2
    assert int(w0["final_step"]) == int(w1["final_step"]) == 3
    keys = [k for k in w0.files if k.startswith("w")]
    assert keys and all(np.array_equal(w0[k], w1[k]) for k in keys)
    # Only the chief's checkpoint persists in model_dir; the other worker's temporary copy is gone.
    assert os.path.exists(os.path.join(model_dir, "checkpoints", "ckpt-3.index"))
    assert not os.listdir(os.path.join(model_dir, ".tmp_workers")) if os.path.exists(
        os.path.join(model_dir, ".tmp_workers")) else True
