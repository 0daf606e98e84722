"""keras_mobile: lightweight CNNs (MobileNet V1-V3, MobileNeXt, ReXNet, MixNet, Xception,
SqueezeNet, ShuffleNet V1/V2) for Keras 3 and tf_keras."""

from setuptools import find_packages, setup

TENSORFLOW = ["tensorflow==2.21.*", "tf-keras==2.21.*"]
# Export (SavedModel / TFLite / ONNX, each verified by its own runtime) and the latency benchmark.
DATA = ["tensorflow-datasets==4.9.*", "importlib_resources>=6"]
# The training harness (train_tpu) and compression (TF-MOT) run on tf_keras.
TRAIN = DATA + ["pyyaml>=6", "absl-py>=1.4"]
COMPRESSION = ["tensorflow-model-optimization==0.8.*"]
# Reading .safetensors checkpoints for keras_mobile.convert (.pth files need torch, not a dependency).
CONVERT = ["safetensors>=0.4"]
EXPORT = ["ai-edge-litert==2.3.*", "tf2onnx==1.17.*", "onnx>=1.17", "onnxruntime>=1.20", "matplotlib>=3.8"]
# Running notebooks/ top to bottom (tests/test_notebook.py).
NOTEBOOK = ["nbclient>=0.10", "nbformat>=5.10", "ipykernel>=6.29"]
# The documentation site (mkdocs.yml; `python -m mkdocs build --strict` runs in CI).
DOCS = ["mkdocs==1.6.*", "mkdocs-material==9.*", "mkdocstrings==1.*", "mkdocstrings-python==2.*"]

setup(
    name="keras_mobile",
    version="0.1.0",
    description=__doc__,
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    package_data={"keras_mobile": ["pretrained/*.txt"]},  # the ImageNet class names of decode_predictions
    packages=find_packages(include=["keras_mobile", "keras_mobile.*", "train_tpu", "train_tpu.*", "tfds_configs", "tfds_configs.*"]),
    # The core needs Keras 3 only: a JAX- or PyTorch-only user installs no TensorFlow.
    install_requires=["keras>=3.15", "numpy>=1.26", "h5py>=3.10"],
    extras_require={
        "tensorflow": TENSORFLOW,
        "jax": ["jax>=0.4.30"],
        "torch": ["torch>=2.4"],
        "data": TENSORFLOW + DATA,
        "export": TENSORFLOW + EXPORT,
        "train": TENSORFLOW + TRAIN + EXPORT,
        "compression": TENSORFLOW + TRAIN + EXPORT + COMPRESSION,
        "convert": CONVERT,
        "docs": TENSORFLOW + TRAIN + DOCS,  # docs/hooks.py imports the registry and the harness's presets
        "dev": TENSORFLOW
        + EXPORT
        + TRAIN
        + COMPRESSION
        + DOCS
        + CONVERT
        + NOTEBOOK
        + [
            "keras==3.15.1",
            "jax==0.10.2",
            "jaxlib==0.10.2",
            "tensorflow-datasets==4.9.10",
            "importlib_resources>=6",
            "pytest>=8",
            "pytest-xdist>=3.5",
            "pytest-timeout>=2.3",
        ],
    },
)
