"""One module per family; importing this package registers every variant."""

from keras_mobile.models import (  # noqa: F401
    mixnet,
    mobilenet_v1,
    mobilenet_v2,
    mobilenet_v3,
    mobilenext,
    rexnet,
    shufflenet_v1,
    shufflenet_v2,
    squeezenet,
    xception,
)
