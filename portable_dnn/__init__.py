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
from .convert import from_sklearn, from_torch, to_sklearn, to_torch
from .cost import compute_cost, compute_cost_backward
from .datasets import default_dataset, flatten_images, load_dataset, load_npz_dataset
from .export import export_onnx
from .fit import fit, forward_proba, predict_labels
from .gradcheck import dictionary_to_vector, gradient_check, gradients_to_vector, vector_to_dictionary
from .images import predict_image
from .initialization import initialize_parameters, initialize_parameters_deep
from .layer import linear_activation_backward, linear_activation_forward
from .linear import linear_backward, linear_forward
from .minibatch import random_mini_batches
from .model import L_model_backward, L_model_forward
from .optimizers import (
    initialize_adam,
    initialize_velocity,
    schedule_lr_decay,
    update_lr,
    update_parameters_with_adam,
    update_parameters_with_gd,
    update_parameters_with_momentum,
)
from .regularization import (
    add_l2_grads,
    apply_dropout,
    compute_cost_with_regularization,
    dropout_backward,
    dropout_forward,
    dropout_mask,
    l2_cost,
    l2_grads,
)
from .serialization import load_checkpoint, load_metadata, load_parameters, save_parameters
from .softmax import (
    compute_cost_softmax,
    compute_cost_softmax_backward,
    one_hot,
    softmax,
    softmax_backward,
)
from .trained import TrainedNetwork, as_trained, summary
from .training import (
    L_layer_model,
    TrainingDiverged,
    TrainingInterrupted,
    TrainingState,
    accuracy,
    predict,
    two_layer_model,
)
from .update import update_parameters

__version__ = "0.1.0"

__all__ = [
    "accuracy",
    "add_l2_grads",
    "apply_dropout",
    "as_trained",
    "available_backends",
    "Backend",
    "BACKEND_NAMES",
    "compute_cost",
    "compute_cost_backward",
    "compute_cost_softmax",
    "compute_cost_softmax_backward",
    "compute_cost_with_regularization",
    "default_dataset",
    "dictionary_to_vector",
    "dropout_backward",
    "dropout_forward",
    "dropout_mask",
    "export_onnx",
    "fit",
    "flatten_images",
    "forward_proba",
    "from_sklearn",
    "from_torch",
    "get_backend",
    "gradient_check",
    "gradients_to_vector",
    "initialize_adam",
    "initialize_parameters",
    "initialize_parameters_deep",
    "initialize_velocity",
    "l2_cost",
    "l2_grads",
    "L_layer_model",
    "L_model_backward",
    "L_model_forward",
    "leaky_relu",
    "leaky_relu_backward",
    "linear_activation_backward",
    "linear_activation_forward",
    "linear_backward",
    "linear_forward",
    "load_dataset",
    "load_checkpoint",
    "load_metadata",
    "load_npz_dataset",
    "load_parameters",
    "one_hot",
    "predict",
    "predict_image",
    "predict_labels",
    "prefer_gpu",
    "random_mini_batches",
    "relu",
    "relu_backward",
    "require_gpu",
    "save_parameters",
    "schedule_lr_decay",
    "sigmoid",
    "sigmoid_backward",
    "softmax",
    "softmax_backward",
    "tanh",
    "tanh_backward",
    "to_sklearn",
    "to_numpy",
    "to_torch",
    "summary",
    "TrainedNetwork",
    "TrainingDiverged",
    "TrainingInterrupted",
    "TrainingState",
    "two_layer_model",
    "update_lr",
    "update_parameters",
    "update_parameters_with_adam",
    "update_parameters_with_gd",
    "update_parameters_with_momentum",
    "use_backend",
    "vector_to_dictionary",
]
