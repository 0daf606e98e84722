"""Training harness (tf.distribute on TPU / GPU / multi-worker); built in a later issue."""
