"""File helpers shared by the harness: atomic text / JSON writes and reads, on local paths and gs:// alike.

A write goes to a temporary file next to the target and is renamed over it,
so a reader (or a run killed mid-write) never sees a half-written file.
"""

import json
import os

import tensorflow as tf  # tf.io.gfile: local paths and gs://


def exists(path):
    return tf.io.gfile.exists(path)


def read_text(path):
    with tf.io.gfile.GFile(path, "r") as f:
        return f.read()


def read_json(path):
    return json.loads(read_text(path))


def read_bytes(path):
    with tf.io.gfile.GFile(path, "rb") as f:
        return f.read()


def atomic_write(path, text):
    """Write ``text`` (str, or bytes) to ``path`` via a temporary file and a rename (no half-written file);
    returns ``path``."""
    directory = os.path.dirname(path)
    if directory:
        tf.io.gfile.makedirs(directory)
    temp = f"{path}.tmp-{os.getpid()}"
    with tf.io.gfile.GFile(temp, "wb" if isinstance(text, bytes) else "w") as f:
        f.write(text)
    tf.io.gfile.rename(temp, path, overwrite=True)
    return path


def write_json(path, data):
    """Write ``data`` as JSON to ``path`` atomically; numpy scalars and arrays become numbers and lists."""
    return atomic_write(path, json.dumps(data, indent=2, sort_keys=False, default=_jsonable) + "\n")


def _jsonable(value):
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
