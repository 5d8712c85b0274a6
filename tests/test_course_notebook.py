"""The course's published unit tests of both notebooks, run the course's way on NumPy arrays.

"Building your Deep Neural Network: Step by Step" checks each helper, and "Deep
Neural Network - Application" checks ``two_layer_model`` and ``L_layer_model``.
Each test builds the course's inputs (``np.random.seed`` and ``randn``, as the
course does), calls the library as the notebook calls its own functions
(positional arguments, the default backend: NumPy) and makes the course's three
checks: a datatype check (every leaf of the output is of the expected type,
recursively through dicts, tuples and lists), a shape check and an equation
check (``assert_array_almost_equal``, six decimals, against the course's
published expected outputs).

Where an expectation is not one the course publishes (training on labels drawn
from a normal distribution beyond the course's own case), it is recomputed by
the course's reference formulas, written out independently below
(:func:`_course_model`), never taken from the library.
"""

from __future__ import annotations

import numpy as np
import pytest

import portable_dnn as dnn


@pytest.fixture(autouse=True)
def _numpy_default():
    """The notebooks pass no backend: the default one is NumPy for them, on any machine."""
    with dnn.use_backend("numpy"):
        yield


# ----------------------------------------------------- the course's three checks


def _datatype_check(expected, got):
    if isinstance(expected, dict):
        assert isinstance(got, dict) and set(expected) <= set(got), f"keys {sorted(got)}"
        for key in expected:
            _datatype_check(expected[key], got[key])
    elif isinstance(expected, (tuple, list)):
        assert isinstance(got, (tuple, list)) and len(got) == len(expected)
        for e, g in zip(expected, got):
            _datatype_check(e, g)
    else:
        assert isinstance(got, type(expected)), f"{type(got).__name__}, expected {type(expected).__name__}"


def _shape_check(expected, got):
    if isinstance(expected, dict):
        for key in expected:
            _shape_check(expected[key], got[key])
    elif isinstance(expected, (tuple, list)):
        assert len(got) == len(expected)
        for e, g in zip(expected, got):
            _shape_check(e, g)
    elif hasattr(expected, "shape"):
        assert got.shape == expected.shape, f"{got.shape}, expected {expected.shape}"


def _equation_check(expected, got):
    if isinstance(expected, dict):
        for key in expected:
            _equation_check(expected[key], got[key])
    elif isinstance(expected, (tuple, list)):
        assert len(got) == len(expected)
        for e, g in zip(expected, got):
            _equation_check(e, g)
    elif hasattr(expected, "shape"):
        np.testing.assert_array_almost_equal(got, expected)
    else:
        assert got == expected


def _all_checks(expected, got):
    _datatype_check(expected, got)
    _shape_check(expected, got)
    _equation_check(expected, got)


# ------------------------------------------------------------ step by step


def test_initialize_parameters():
    expected = {
        "W1": np.array([[0.01624345, -0.00611756, -0.00528172], [-0.01072969, 0.00865408, -0.02301539]]),
        "b1": np.array([[0.0], [0.0]]),
        "W2": np.array([[0.01744812, -0.00761207]]),
        "b2": np.array([[0.0]]),
    }
    _all_checks(expected, dnn.initialize_parameters(3, 2, 1))


def test_initialize_parameters_deep():
    expected = {
        "W1": np.array(
            [
                [0.01788628, 0.0043651, 0.00096497, -0.01863493, -0.00277388],
                [-0.00354759, -0.00082741, -0.00627001, -0.00043818, -0.00477218],
                [-0.01313865, 0.00884622, 0.00881318, 0.01709573, 0.00050034],
                [-0.00404677, -0.0054536, -0.01546477, 0.00982367, -0.01101068],
            ]
        ),
        "b1": np.zeros((4, 1)),
        "W2": np.array(
            [
                [-0.01185047, -0.0020565, 0.01486148, 0.00236716],
                [-0.01023785, -0.00712993, 0.00625245, -0.00160513],
                [-0.00768836, -0.00230031, 0.00745056, 0.01976111],
            ]
        ),
        "b2": np.zeros((3, 1)),
    }
    _all_checks(expected, dnn.initialize_parameters_deep([5, 4, 3]))


def test_linear_forward():
    np.random.seed(1)
    A_prev, W, b = np.random.randn(3, 2), np.random.randn(1, 3), np.random.randn(1, 1)
    expected = (np.array([[3.26295337, -1.23429987]]), (A_prev, W, b))
    _all_checks(expected, dnn.linear_forward(A_prev, W, b))


@pytest.mark.parametrize(
    "activation, A",
    [("sigmoid", [[0.96890023, 0.11013289]]), ("relu", [[3.43896131, 0.0]])],
)
def test_linear_activation_forward(activation, A):
    np.random.seed(2)
    A_prev, W, b = np.random.randn(3, 2), np.random.randn(1, 3), np.random.randn(1, 1)
    expected = (np.array(A), ((A_prev, W, b), np.array([[3.43896131, -2.08938436]])))
    _all_checks(expected, dnn.linear_activation_forward(A_prev, W, b, activation))


def test_L_model_forward():
    np.random.seed(6)
    X = np.random.randn(5, 4)
    W1, b1 = np.random.randn(4, 5), np.random.randn(4, 1)
    W2, b2 = np.random.randn(3, 4), np.random.randn(3, 1)
    W3, b3 = np.random.randn(1, 3), np.random.randn(1, 1)
    parameters = {"W1": W1, "b1": b1, "W2": W2, "b2": b2, "W3": W3, "b3": b3}
    Z1 = np.array(
        [
            [-5.23825714, 3.18040136, 0.4074501, -1.88612721],
            [-2.77358234, -0.56177316, 3.18141623, -0.99209432],
            [4.18500916, -1.78006909, -0.14502619, 2.72141638],
            [5.05850802, -1.25674082, -3.54566654, 3.82321852],
        ]
    )
    A1 = np.array(
        [
            [0.0, 3.18040136, 0.4074501, 0.0],
            [0.0, 0.0, 3.18141623, 0.0],
            [4.18500916, 0.0, 0.0, 2.72141638],
            [5.05850802, 0.0, 0.0, 3.82321852],
        ]
    )
    Z2 = np.array(
        [
            [2.2644603, 1.09971298, -2.90298027, 1.54036335],
            [6.33722569, -2.38116246, -4.11228806, 4.48582383],
            [10.37508342, -0.66591468, 1.63635185, 8.17870169],
        ]
    )
    A2 = np.array(
        [
            [2.2644603, 1.09971298, 0.0, 1.54036335],
            [6.33722569, 0.0, 0.0, 4.48582383],
            [10.37508342, 0.0, 1.63635185, 8.17870169],
        ]
    )
    Z3 = np.array([[-3.19864676, 0.87117055, -1.40297864, -3.00319435]])
    # The course prints the cached inputs too; they are the arrays passed in.
    expected_caches = [((X, W1, b1), Z1), ((A1, W2, b2), Z2), ((A2, W3, b3), Z3)]
    expected = (np.array([[0.03921668, 0.70498921, 0.19734387, 0.04728177]]), expected_caches)
    _all_checks(expected, dnn.L_model_forward(X, parameters))


def test_compute_cost():
    # The course checks the value only (np.allclose).
    Y, AL = np.asarray([[1, 1, 0]]), np.array([[0.8, 0.9, 0.4]])
    assert np.allclose(np.array(0.27977656), dnn.compute_cost(AL, Y))


def test_linear_backward():
    np.random.seed(1)
    dZ, A = np.random.randn(3, 4), np.random.randn(5, 4)
    W, b = np.random.randn(3, 5), np.random.randn(3, 1)
    expected = (
        np.array(
            [
                [-1.15171336, 0.06718465, -0.3204696, 2.09812712],
                [0.60345879, -3.72508701, 5.81700741, -3.84326836],
                [-0.4319552, -1.30987417, 1.72354705, 0.05070578],
                [-0.38981415, 0.60811244, -1.25938424, 1.47191593],
                [-2.52214926, 2.67882552, -0.67947465, 1.48119548],
            ]
        ),
        np.array(
            [
                [0.07313866, -0.0976715, -0.87585828, 0.73763362, 0.00785716],
                [0.85508818, 0.37530413, -0.59912655, 0.71278189, -0.58931808],
                [0.97913304, -0.24376494, -0.08839671, 0.55151192, -0.10290907],
            ]
        ),
        np.array([[-0.14713786], [-0.11313155], [-0.13209101]]),
    )
    _all_checks(expected, dnn.linear_backward(dZ, (A, W, b)))


@pytest.mark.parametrize(
    "activation, dA_prev, dW, db",
    [
        (
            "sigmoid",
            [[0.11017994, 0.01105339], [0.09466817, 0.00949723], [-0.05743092, -0.00576154]],
            [[0.10266786, 0.09778551, -0.01968084]],
            [[-0.05729622]],
        ),
        (
            "relu",
            [[0.44090989, 0.0], [0.37883606, 0.0], [-0.2298228, 0.0]],
            [[0.44513824, 0.37371418, -0.10478989]],
            [[-0.20837892]],
        ),
    ],
)
def test_linear_activation_backward(activation, dA_prev, dW, db):
    np.random.seed(2)
    dA, A, W = np.random.randn(1, 2), np.random.randn(3, 2), np.random.randn(1, 3)
    b, Z = np.random.randn(1, 1), np.random.randn(1, 2)
    expected = (np.array(dA_prev), np.array(dW), np.array(db))
    _all_checks(expected, dnn.linear_activation_backward(dA, ((A, W, b), Z), activation))


def test_L_model_backward():
    np.random.seed(3)
    AL, Y = np.random.randn(1, 2), np.array([[1, 0]])
    A1, W1, b1, Z1 = (
        np.random.randn(4, 2),
        np.random.randn(3, 4),
        np.random.randn(3, 1),
        np.random.randn(3, 2),
    )
    A2, W2, b2, Z2 = (
        np.random.randn(3, 2),
        np.random.randn(1, 3),
        np.random.randn(1, 1),
        np.random.randn(1, 2),
    )
    caches = (((A1, W1, b1), Z1), ((A2, W2, b2), Z2))
    expected = {
        "dA1": np.array([[0.12913162, -0.44014127], [-0.14175655, 0.48317296], [0.01663708, -0.05670698]]),
        "dW2": np.array([[-0.39202432, -0.13325855, -0.04601089]]),
        "db2": np.array([[0.15187861]]),
        "dA0": np.array([[0.0, 0.52257901], [0.0, -0.3269206], [0.0, -0.32070404], [0.0, -0.74079187]]),
        "dW1": np.array(
            [
                [0.41010002, 0.07807203, 0.13798444, 0.10502167],
                [0.0, 0.0, 0.0, 0.0],
                [0.05283652, 0.01005865, 0.01777766, 0.0135308],
            ]
        ),
        "db1": np.array([[-0.22007063], [0.0], [-0.02835349]]),
    }
    _all_checks(expected, dnn.L_model_backward(AL, Y, caches))


def test_update_parameters():
    np.random.seed(2)
    W1, b1, W2, b2 = (
        np.random.randn(3, 4),
        np.random.randn(3, 1),
        np.random.randn(1, 3),
        np.random.randn(1, 1),
    )
    np.random.seed(3)
    dW1, db1 = np.random.randn(3, 4), np.random.randn(3, 1)
    dW2, db2 = np.random.randn(1, 3), np.random.randn(1, 1)
    parameters = {"W1": W1, "b1": b1, "W2": W2, "b2": b2}
    grads = {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}
    expected = {
        "W1": np.array(
            [
                [-0.59562069, -0.09991781, -2.14584584, 1.82662008],
                [-1.76569676, -0.80627147, 0.51115557, -1.18258802],
                [-1.0535704, -0.86128581, 0.68284052, 2.20374577],
            ]
        ),
        "b1": np.array([[-0.04659241], [-1.28888275], [0.53405496]]),
        "W2": np.array([[-0.55569196, 0.0354055, 1.32964895]]),
        "b2": np.array([[-0.84610769]]),
    }
    _all_checks(expected, dnn.update_parameters(parameters, grads, 0.1))


# ------------------------------------------------------------- application

TWO_LAYER_AFTER_2 = {
    "W1": [
        [0.01624965, -0.00610741, -0.00528734, -0.01072836, 0.008664,
         -0.02301103, 0.01745639, -0.00760949, 0.0031934, -0.00248971],
        [0.01462848, -0.02057904, -0.00326745, -0.00383625, 0.01138176,
         -0.01097596, -0.00171974, -0.00877601, 0.00043022, 0.00584423],
        [-0.01098272, 0.01148209, 0.00902102, 0.00500958, 0.00900571,
         -0.00683188, -0.00123491, -0.00937164, -0.00267157, 0.00532808],
        [-0.00693465, -0.00400047, -0.00684685, -0.00844447, -0.00670397,
         -0.00014731, -0.01113977, 0.00238846, 0.0165895, 0.00738212],
    ],
    "b1": [[1.10437111e-05], [1.78437869e-05], [3.74879549e-05], [-4.42988824e-05]],
    "W2": [[-0.00200283, -0.00888593, -0.00751122, 0.01688162]],
    "b2": [[-0.00689018]],
}  # fmt: skip
TWO_LAYER_AFTER_3_AT_01 = {
    "W1": [
        [0.01640028, -0.00585699, -0.00542633, -0.01069332, 0.0089055,
         -0.02290418, 0.01765388, -0.00754616, 0.00326712, -0.00239159],
        [0.01476737, -0.02014461, -0.0040947, -0.0037457, 0.01221714,
         -0.01054049, -0.00164111, -0.00872507, 0.00058592, 0.00615077],
        [-0.01051621, 0.01216499, 0.009119, 0.0047126, 0.00894761,
         -0.00672568, -0.00134921, -0.0096428, -0.00253223, 0.00580758],
        [-0.00728552, -0.00461461, -0.00638113, -0.00831084, -0.00654136,
         -0.00053186, -0.01052771, 0.00320719, 0.01643914, 0.00667123],
    ],
    "b1": [[0.00027478], [0.00034477], [0.00076016], [-0.00084497]],
    "W2": [[-0.00358725, -0.00911995, -0.00831979, 0.01615845]],
    "b2": [[-0.13451354]],
}  # fmt: skip
L_LAYER_AFTER_2 = {
    "W1": [
        [0.51384638, -0.19333098, -0.16705238, -0.33923196, 0.273477,
         -0.72775498, 0.55170785, -0.24077478, 0.10082452, -0.07882423],
        [0.46227786, -0.65153639, -0.10192959, -0.12150984, 0.35855025,
         -0.34787253, -0.05455001, -0.27767163, 0.01337835, 0.1843845],
        [-0.34790478, 0.36200264, 0.28511245, 0.15868454, 0.284931,
         -0.21645471, -0.03877896, -0.29584578, -0.08480802, 0.16760667],
        [-0.21835973, -0.12531366, -0.21720823, -0.26764975, -0.21214946,
         -0.00438229, -0.35316347, 0.07432144, 0.52474685, 0.23453653],
        [-0.06060968, -0.28061463, -0.23624839, 0.53526844, 0.01597194,
         -0.20136496, 0.06021639, 0.66414167, 0.03804666, 0.19528599],
    ],
    "b1": [[-2.16491028e-04], [1.50999130e-04], [8.71516045e-06], [5.57557615e-05], [-2.90746349e-05]],
    "W2": [
        [0.13428358, -0.15747685, -0.51095667, -0.15624083, -0.09342034],
        [0.26226685, 0.3751336, 0.41644174, 0.12779375, 0.39573817],
        [-0.33726917, 0.56041154, 0.22939257, -0.1333337, 0.21851314],
        [-0.03377599, 0.50617255, 0.67960046, 0.97726521, -0.62458844],
        [-0.64581803, -0.22559264, 0.0715349, 0.39173682, 0.14112904],
        [-0.9043503, -0.13693179, 0.37026002, 0.10284282, 0.34076545],
    ],
    "b2": [[1.80215514e-07], [-1.07935097e-04], [1.63081605e-04], [-3.51202008e-05],
           [-7.40012619e-05], [-4.43814901e-05]],
    "W3": [[-0.09079199, -0.08117381, 0.07667568, 0.16665535, 0.08029575, 0.04805811]],
    "b3": [[0.0013201]],
}  # fmt: skip
L_LAYER_AFTER_3_AT_002 = {
    "W1": [
        [0.51439065, -0.19296367, -0.16714033, -0.33902173, 0.27291558,
         -0.72759069, 0.55155832, -0.24095201, 0.10063293, -0.07872596],
        [0.46203186, -0.65172685, -0.10184775, -0.12169458, 0.35861847,
         -0.34804029, -0.05461748, -0.27787524, 0.01346693, 0.18463095],
        [-0.34748255, 0.36202977, 0.28512463, 0.1580327, 0.28509518,
         -0.21717447, -0.03853304, -0.29563725, -0.08509025, 0.16728901],
        [-0.21727997, -0.12486465, -0.21692552, -0.26875722, -0.21180188,
         -0.00550575, -0.35268367, 0.07489501, 0.52436384, 0.23418418],
        [-0.06045008, -0.28038304, -0.23617868, 0.53546925, 0.01569291,
         -0.20115358, 0.05975429, 0.66409149, 0.03819309, 0.1956102],
    ],
    "b1": [[-8.61228305e-04], [6.08187689e-04], [3.53075377e-05], [2.21291877e-04], [-1.13591429e-04]],
    "W2": [
        [0.13441428, -0.15731437, -0.51097778, -0.15627102, -0.09342034],
        [0.2620349, 0.37492336, 0.4165605, 0.12801536, 0.39541677],
        [-0.33694339, 0.56075022, 0.22940292, -0.1334017, 0.21863717],
        [-0.03371679, 0.50644769, 0.67935577, 0.97680859, -0.62475679],
        [-0.64579072, -0.22555897, 0.07142896, 0.3914475, 0.14104814],
        [-0.90433399, -0.13691167, 0.37019673, 0.10266999, 0.34071712],
    ],
    "b2": [[1.18811550e-06], [-4.25510194e-04], [6.56178455e-04], [-1.42335482e-04],
           [-2.93618626e-04], [-1.75573157e-04]],
    "W3": [[-0.09087434, -0.07882982, 0.07821609, 0.16442826, 0.0783229, 0.04648216]],
    "b3": [[0.00525865]],
}  # fmt: skip


def _published(parameters, cost):
    return {k: np.array(v) for k, v in parameters.items()}, [np.array(cost)]


def _two_layer_inputs():
    np.random.seed(1)
    X = np.random.randn(10, 10)
    Y = np.random.randn(1, 10)  # the course's test trains on normal draws, not 0/1 labels
    return X, Y


@pytest.mark.parametrize(
    "learning_rate, num_iterations, expected",
    [(0.0075, 2, TWO_LAYER_AFTER_2), (0.1, 3, TWO_LAYER_AFTER_3_AT_01)],
)
def test_two_layer_model(learning_rate, num_iterations, expected):
    X, Y = _two_layer_inputs()
    with pytest.warns(UserWarning, match=r"two_layer_model: Y holds labels other than 0 and 1 \(first: "):
        got = dnn.two_layer_model(X, Y, (10, 4, 1), learning_rate, num_iterations, False)
    _all_checks(_published(expected, 0.69315968), got)


def _L_layer_inputs():
    np.random.seed(1)
    X = np.random.randn(10, 10)
    Y = np.array([1, 1, 1, 1, 0, 0, 0, 1, 1, 0]).reshape(1, 10)
    return X, Y


@pytest.mark.parametrize(
    "learning_rate, num_iterations, expected",
    [(0.0075, 2, L_LAYER_AFTER_2), (0.02, 3, L_LAYER_AFTER_3_AT_002)],
)
def test_L_layer_model(learning_rate, num_iterations, expected):
    X, Y = _L_layer_inputs()
    got = dnn.L_layer_model(X, Y, (10, 5, 6, 1), learning_rate, num_iterations)
    _all_checks(_published(expected, 0.70723944), got)


# ----------------- the course's reference formulas, written out (for what it does not publish)


def _course_model(X, Y, layers_dims, learning_rate, num_iterations, two_layer):
    """The application notebook's training loop as the course writes it, in plain NumPy.

    Initialization: ``np.random.seed(1)``, then ``randn * 0.01`` for the two-layer
    model or ``randn / sqrt(n[l-1])`` for the L-layer one, biases zero. Each
    iteration: forward [LINEAR -> RELU] x (L-1) -> LINEAR -> SIGMOID, the cost
    ``(1/m) * (-Y . log(AL)^T - (1-Y) . log(1-AL)^T)`` squeezed (recorded every
    100 iterations), ``dAL = -(Y/AL - (1-Y)/(1-AL))``, back through the sigmoid
    (``dA * s * (1 - s)``) and the ReLUs (``dZ = dA``, zero where ``Z <= 0``),
    ``dW = dZ A_prev^T / m``, ``db = sum(dZ) / m``, ``dA_prev = W^T dZ``, then
    ``W -= learning_rate * dW``.
    """
    rng = np.random.RandomState(1)
    L = len(layers_dims) - 1
    params = {}
    for l in range(1, L + 1):
        w = rng.randn(layers_dims[l], layers_dims[l - 1])
        params[f"W{l}"] = w * 0.01 if two_layer else w / np.sqrt(layers_dims[l - 1])
        params[f"b{l}"] = np.zeros((layers_dims[l], 1))
    m = X.shape[1]
    costs = []
    for i in range(num_iterations):
        A, cache = X, []
        for l in range(1, L + 1):
            Z = params[f"W{l}"] @ A + params[f"b{l}"]
            cache.append((A, Z))
            A = 1 / (1 + np.exp(-Z)) if l == L else np.maximum(0, Z)
        AL = A
        cost = np.squeeze(1.0 / m * (-np.dot(Y, np.log(AL).T) - np.dot(1 - Y, np.log(1 - AL).T)))
        dA = -(np.divide(Y, AL) - np.divide(1 - Y, 1 - AL))
        grads = {}
        for l in range(L, 0, -1):
            A_prev, Z = cache[l - 1]
            if l == L:
                s = 1 / (1 + np.exp(-Z))
                dZ = dA * s * (1 - s)
            else:
                dZ = np.array(dA, copy=True)
                dZ[Z <= 0] = 0
            grads[f"dW{l}"] = 1.0 / m * np.dot(dZ, A_prev.T)
            grads[f"db{l}"] = 1.0 / m * np.sum(dZ, axis=1, keepdims=True)
            dA = np.dot(params[f"W{l}"].T, dZ)
        for l in range(1, L + 1):
            params[f"W{l}"] = params[f"W{l}"] - learning_rate * grads[f"dW{l}"]
            params[f"b{l}"] = params[f"b{l}"] - learning_rate * grads[f"db{l}"]
        if i % 100 == 0:
            costs.append(cost)
    return params, costs


def test_the_written_out_reference_reproduces_the_published_outputs():
    X, Y = _two_layer_inputs()
    _all_checks(_published(TWO_LAYER_AFTER_2, 0.69315968), _course_model(X, Y, (10, 4, 1), 0.0075, 2, True))
    X, Y = _L_layer_inputs()
    _all_checks(
        _published(L_LAYER_AFTER_3_AT_002, 0.70723944), _course_model(X, Y, (10, 5, 6, 1), 0.02, 3, False)
    )


@pytest.mark.parametrize("dims", [(10, 5, 4, 3, 1), (10, 4, 1)])
def test_L_layer_model_on_normal_draws_computes_the_course_formula(dims):
    # Beyond the course's cases: L_layer_model on the two-layer test's normal draws,
    # for 201 iterations (costs at 0, 100 and 200), against the written-out reference.
    X, Y = _two_layer_inputs()
    with pytest.warns(
        UserWarning, match=r"L_layer_model: Y holds labels other than 0 and 1 \(first: -0\.4471"
    ):
        got = dnn.L_layer_model(X, Y, dims, 0.0075, 201)
    expected = _course_model(X, Y, dims, 0.0075, 201, False)
    _all_checks(expected, got)
    np.testing.assert_allclose([float(c) for c in got[1]], [float(c) for c in expected[1]], rtol=1e-12)


def test_compute_cost_and_L_model_backward_on_normal_draws_compute_the_course_formula():
    np.random.seed(3)
    AL = 1 / (1 + np.exp(-np.random.randn(1, 4)))
    Y = np.random.randn(1, 4)
    with pytest.warns(UserWarning, match=r"compute_cost: Y holds labels other than 0 and 1"):
        cost = dnn.compute_cost(AL, Y)
    m = 4
    reference = np.squeeze(1.0 / m * (-np.dot(Y, np.log(AL).T) - np.dot(1 - Y, np.log(1 - AL).T)))
    assert np.allclose(reference, cost, rtol=1e-14, atol=0)

    A_prev, W, b = np.random.randn(3, 4), np.random.randn(1, 3), np.random.randn(1, 1)
    Z = np.log(AL / (1 - AL))  # the Z whose sigmoid is AL
    with pytest.warns(UserWarning, match=r"L_model_backward: Y holds labels other than 0 and 1"):
        grads = dnn.L_model_backward(AL, Y, [((A_prev, W, b), Z)])
    dAL = -(np.divide(Y, AL) - np.divide(1 - Y, 1 - AL))
    s = 1 / (1 + np.exp(-Z))
    dZ = dAL * s * (1 - s)
    expected = {
        "dW1": 1.0 / m * np.dot(dZ, A_prev.T),
        "db1": 1.0 / m * np.sum(dZ, axis=1, keepdims=True),
        "dA0": np.dot(W.T, dZ),
    }
    _all_checks(expected, grads)
