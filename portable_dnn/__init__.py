"""portable_dnn: the deep-learning course's feed-forward networks on any Array API library.

>>> import numpy as np
>>> import portable_dnn as dnn
>>> params = dnn.initialize_parameters_deep([4, 3, 1], backend="numpy")
>>> AL, caches = dnn.L_model_forward(np.ones((4, 5)), params)
>>> AL.shape
(1, 5)
"""

from .activations import (
    leaky_relu,
    leaky_relu_backward,
    relu,
    relu_backward,
    sigmoid,
    sigmoid_backward,
    tanh,
    tanh_backward,
)
from .backend import (
    BACKEND_NAMES,
    Backend,
    available_backends,
    get_backend,
    prefer_gpu,
    require_gpu,
    to_numpy,
    use_backend,
)
from .cost import compute_cost, compute_cost_backward
from .initialization import initialize_parameters, initialize_parameters_deep
from .layer import linear_activation_backward, linear_activation_forward
from .linear import linear_backward, linear_forward
from .model import L_model_backward, L_model_forward
from .training import (
    TrainingDiverged,
    TrainingInterrupted,
    TrainingState,
    L_layer_model,
    accuracy,
    predict,
    two_layer_model,
)
from .update import update_parameters

__version__ = "0.1.0"

__all__ = [
    "BACKEND_NAMES",
    "Backend",
    "L_model_backward",
    "L_model_forward",
    "L_layer_model",
    "TrainingDiverged",
    "TrainingInterrupted",
    "TrainingState",
    "accuracy",
    "predict",
    "two_layer_model",
    "available_backends",
    "compute_cost",
    "compute_cost_backward",
    "get_backend",
    "initialize_parameters",
    "initialize_parameters_deep",
    "leaky_relu",
    "leaky_relu_backward",
    "linear_activation_backward",
    "linear_activation_forward",
    "linear_backward",
    "linear_forward",
    "prefer_gpu",
    "relu",
    "relu_backward",
    "require_gpu",
    "sigmoid",
    "sigmoid_backward",
    "tanh",
    "tanh_backward",
    "to_numpy",
    "update_parameters",
    "use_backend",
]
