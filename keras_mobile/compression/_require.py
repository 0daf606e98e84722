"""Checks that run before TF-MOT is imported: the tf_keras line and a tf_keras model.

TF-MOT (tensorflow-model-optimization) wraps tf_keras layers only, and importing
it sets ``TF_USE_LEGACY_KERAS=1`` in the process environment as a side effect.
So every public compression function first checks the Keras line and the model
here, with nothing from TF-MOT imported, and only then imports it.
"""

from keras_mobile import backend

TFMOT_PIN = "tensorflow-model-optimization==0.8.*"

_HOW = (
    "TF-MOT (tensorflow-model-optimization) wraps tf_keras models only. Set TF_USE_LEGACY_KERAS=1 before "
    "importing keras_mobile (and TensorFlow), e.g. `TF_USE_LEGACY_KERAS=1 python ...` or "
    "`os.environ['TF_USE_LEGACY_KERAS'] = '1'` at the top of the notebook, then rebuild the model there with "
    "keras_mobile.create_model(name, ...) and load its weights (model.save_weights(...) on the Keras 3 side, "
    "weights=FILE or model.load_weights(...) on the tf_keras side)."
)


def keras_package(model):
    """The top-level package of the model's class: ``"tf_keras"``, ``"keras"`` (Keras 3), ..."""
    return type(model).__module__.split(".", 1)[0]


def on_keras3(model):
    """Whether ``model`` goes to the Keras 3 implementations (pruning, QAT): the Keras 3 line, not a tf_keras model."""
    return not backend.IS_LEGACY_KERAS and keras_package(model) != "tf_keras"


def require_tf_keras(model, function):
    """Raise TypeError unless ``model`` is a functional tf_keras model on the tf_keras line.

    Runs before TF-MOT is imported, so the error comes without TF-MOT's side effects.
    """
    package = keras_package(model)
    if package == "keras" or (package != "tf_keras" and type(model).__module__.startswith("keras")):
        raise TypeError(
            f"{function}: model '{getattr(model, 'name', model)}' is a Keras 3 model "
            f"({type(model).__module__}.{type(model).__name__}). {_HOW}"
        )
    if not backend.IS_LEGACY_KERAS:
        raise TypeError(
            f"{function}: keras_mobile was imported on the Keras 3 line (TF_USE_LEGACY_KERAS is not set). {_HOW}"
        )
    import tf_keras

    if not isinstance(model, tf_keras.Model):
        raise TypeError(
            f"{function}: model must be a tf_keras.Model (a functional model built by keras_mobile); "
            f"got {type(model).__module__}.{type(model).__name__}."
        )
    if not getattr(model, "_is_graph_network", False):
        raise TypeError(
            f"{function}: model '{model.name}' is a subclassed tf_keras model; TF-MOT needs a functional "
            "(or Sequential) model, which is what keras_mobile's builders return."
        )


def import_tfmot():
    """``tensorflow_model_optimization``, or an ImportError that says what to install."""
    try:
        import tensorflow_model_optimization as tfmot
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            f"keras_mobile.compression needs TF-MOT: pip install '{TFMOT_PIN}' (with tf_keras and TF_USE_LEGACY_KERAS=1)."
        ) from error
    return tfmot
