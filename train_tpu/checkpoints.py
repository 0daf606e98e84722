"""Preemption-safe checkpoints in ``model_dir``.

``tf.train.CheckpointManager`` writes are atomic: ``Checkpoint.write`` saves
the shards to temporary ``*_temp/part-*`` files and merges/renames them
into ``ckpt-N.index`` / ``ckpt-N.data-*`` (``MergeV2Checkpoints``), and the
``checkpoint`` state file is written with ``file_io.atomic_write_string_to_file``
(temp file + rename) only after the shards exist, so a process killed at any
moment leaves the previous checkpoint as the latest one.

Multi-worker: every worker must take part in saving (variables may be
sharded, and saving is a collective), but only the chief writes into
``model_dir``; the others save to a private temporary folder that is deleted
right away (the pattern of the TF multi-worker guide).
"""

import os

import tensorflow as tf

CHECKPOINT_SUBDIR = "checkpoints"


class CheckpointSaver:
    """Saves and restores a `tf.train.Checkpoint`; only the chief's files persist."""

    def __init__(self, checkpoint, model_dir, step, keep=3, is_chief=True, task_type=None, task_id=None):
        self.checkpoint = checkpoint
        self.is_chief = is_chief
        self.directory = os.path.join(model_dir, CHECKPOINT_SUBDIR)
        if is_chief:
            write_dir = self.directory
        else:
            write_dir = os.path.join(model_dir, ".tmp_workers", f"{task_type}_{task_id}")
        self._write_dir = write_dir
        self.manager = tf.train.CheckpointManager(checkpoint, write_dir, max_to_keep=keep, step_counter=step)

    @property
    def latest(self):
        return tf.train.latest_checkpoint(self.directory)

    def restore_latest(self):
        """Restore the chief's latest checkpoint, if any; returns its path or None."""
        path = self.latest
        if path:
            self.checkpoint.restore(path).expect_partial()
        return path

    def save(self, step):
        path = self.manager.save(checkpoint_number=step)
        if not self.is_chief:
            tf.io.gfile.rmtree(self._write_dir)
            return None
        return path

