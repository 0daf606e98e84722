"""keras_mobile: lightweight CNNs for Keras 3 and tf_keras.

``import keras_mobile`` builds Keras 3 models (any ``KERAS_BACKEND``); set
``TF_USE_LEGACY_KERAS=1`` before import to build tf_keras models instead.
"""

from keras_mobile.backend import keras_line  # noqa: F401
from keras_mobile.models.mobilenet_v1 import MobileNet  # noqa: F401
from keras_mobile.models.mobilenet_v2 import MobileNetV2  # noqa: F401
from keras_mobile.models.mobilenet_v3 import MobileNetV3, MobileNetV3Large, MobileNetV3Small  # noqa: F401
from keras_mobile.models.mixnet import MixNet, MixNetL, MixNetM, MixNetS  # noqa: F401
from keras_mobile.models.mobilenext import MobileNeXt  # noqa: F401
from keras_mobile.models.rexnet import ReXNet  # noqa: F401
from keras_mobile.models.shufflenet_v1 import ShuffleNetV1  # noqa: F401
from keras_mobile.models.shufflenet_v2 import ShuffleNetV2  # noqa: F401
from keras_mobile.models.squeezenet import SqueezeNet  # noqa: F401
from keras_mobile.models.xception import Xception  # noqa: F401
from keras_mobile.export import export  # noqa: F401  (the function; the module runs as python -m keras_mobile.export)
from keras_mobile.profile import profile  # noqa: F401  (the function; the module runs as python -m keras_mobile.profile)
from keras_mobile.registry import create_model, list_models, model_info  # noqa: F401

MobileNetV1 = MobileNet

__version__ = "0.1.0"
