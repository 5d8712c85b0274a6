"""Every course function against the course's published expected outputs, on the backend under test."""

import pytest

import portable_dnn as dnn

from . import course_cases as cc
from .published import assert_printed


def test_initialize_parameters(backend):
    p = dnn.initialize_parameters(3, 2, 1, backend=backend)
    assert_printed(p["W1"], "[[ 0.01624345 -0.00611756 -0.00528172] [-0.01072969  0.00865408 -0.02301539]]")
    assert_printed(p["b1"], "[[ 0.] [ 0.]]")
    assert_printed(p["W2"], "[[ 0.01744812 -0.00761207]]")
    assert_printed(p["b2"], "[[ 0.]]")
    assert {k: tuple(v.shape) for k, v in p.items()} == {
        "W1": (2, 3),
        "b1": (2, 1),
        "W2": (1, 2),
        "b2": (1, 1),
    }


def test_initialize_parameters_deep(backend):
    p = dnn.initialize_parameters_deep([5, 4, 3], backend=backend)
    assert_printed(
        p["W1"],
        """[[ 0.01788628  0.0043651   0.00096497 -0.01863493 -0.00277388]
 [-0.00354759 -0.00082741 -0.00627001 -0.00043818 -0.00477218]
 [-0.01313865  0.00884622  0.00881318  0.01709573  0.00050034]
 [-0.00404677 -0.0054536  -0.01546477  0.00982367 -0.01101068]]""",
    )
    assert_printed(p["b1"], "[[ 0.] [ 0.] [ 0.] [ 0.]]")
    assert_printed(
        p["W2"],
        """[[-0.01185047 -0.0020565   0.01486148  0.00236716]
 [-0.01023785 -0.00712993  0.00625245 -0.00160513]
 [-0.00768836 -0.00230031  0.00745056  0.01976111]]""",
    )
    assert_printed(p["b2"], "[[ 0.] [ 0.] [ 0.]]")


def test_linear_forward(to_backend):
    A, W, b = to_backend(cc.linear_forward_test_case())
    Z, cache = dnn.linear_forward(A, W, b)
    assert_printed(Z, "[[ 3.26295337 -1.23429987]]")
    assert cache[0] is A and cache[1] is W and cache[2] is b


@pytest.mark.parametrize(
    "activation, printed",
    [("sigmoid", "[[ 0.96890023  0.11013289]]"), ("relu", "[[ 3.43896131  0.        ]]")],
)
def test_linear_activation_forward(to_backend, activation, printed):
    A_prev, W, b = to_backend(cc.linear_activation_forward_test_case())
    A, ((cA, cW, cb), Z) = dnn.linear_activation_forward(A_prev, W, b, activation)
    assert_printed(A, printed)
    assert cA is A_prev and cW is W and cb is b
    assert_printed(Z, "[[ 3.43896131 -2.08938436]]")


def test_L_model_forward(to_backend):
    X, parameters = to_backend(cc.L_model_forward_test_case())
    AL, caches = dnn.L_model_forward(X, parameters)
    assert_printed(AL, "[[ 0.17007265  0.2524272 ]]")
    assert len(caches) == 2


def test_L_model_forward_2hidden(to_backend):
    X, parameters = to_backend(cc.L_model_forward_test_case_2hidden())
    AL, caches = dnn.L_model_forward(X, parameters)
    assert_printed(AL, "[[ 0.03921668  0.70498921  0.19734387  0.04728177]]")
    assert len(caches) == 3


@pytest.mark.parametrize(
    "case, printed",
    [(cc.compute_cost_test_case, 0.41493159961539694), (cc.compute_cost_test_case_v4, 0.2797765635793422)],
)
def test_compute_cost(to_backend, case, printed):
    Y, AL = to_backend(case())
    cost = dnn.compute_cost(AL, Y)
    assert isinstance(cost, float)
    assert cost == pytest.approx(printed, rel=1e-15, abs=0)


def test_linear_backward(to_backend):
    dZ, linear_cache = to_backend(cc.linear_backward_test_case())
    dA_prev, dW, db = dnn.linear_backward(dZ, linear_cache)
    assert_printed(dA_prev, "[[ 0.51822968 -0.19517421] [-0.40506361  0.15255393] [ 2.37496825 -0.89445391]]")
    assert_printed(dW, "[[-0.10076895  1.40685096  1.64992505]]")
    assert_printed(db, "[[ 0.50629448]]")


def test_linear_activation_backward_sigmoid(to_backend):
    dA, cache = to_backend(cc.linear_activation_backward_test_case())
    dA_prev, dW, db = dnn.linear_activation_backward(dA, cache, "sigmoid")
    assert_printed(dA_prev, "[[ 0.11017994  0.01105339] [ 0.09466817  0.00949723] [-0.05743092 -0.00576154]]")
    assert_printed(dW, "[[ 0.10266786  0.09778551 -0.01968084]]")
    assert_printed(db, "[[-0.05729622]]")


def test_linear_activation_backward_relu(to_backend):
    dA, cache = to_backend(cc.linear_activation_backward_test_case())
    dA_prev, dW, db = dnn.linear_activation_backward(dA, cache, "relu")
    assert_printed(dA_prev, "[[ 0.44090989  0.        ] [ 0.37883606  0.        ] [-0.2298228   0.        ]]")
    assert_printed(dW, "[[ 0.44513824  0.37371418 -0.10478989]]")
    assert_printed(db, "[[-0.20837892]]")


def test_L_model_backward(to_backend):
    AL, Y, caches = to_backend(cc.L_model_backward_test_case())
    grads = dnn.L_model_backward(AL, Y, caches)
    assert sorted(grads) == ["dA0", "dA1", "dW1", "dW2", "db1", "db2"]
    assert_printed(
        grads["dW1"],
        "[[ 0.41010002  0.07807203  0.13798444  0.10502167] [ 0.  0.  0.  0. ]"
        " [ 0.05283652  0.01005865  0.01777766  0.0135308 ]]",
    )
    assert_printed(grads["db1"], "[[-0.22007063] [ 0.        ] [-0.02835349]]")
    assert_printed(
        grads["dA1"], "[[ 0.12913162 -0.44014127] [-0.14175655  0.48317296] [ 0.01663708 -0.05670698]]"
    )
    # dA0, dW2 and db2 follow from the same formulas; the course prints them in later versions.
    assert_printed(grads["dW2"], "[[-0.39202432 -0.13325855 -0.04601089]]")
    assert_printed(grads["db2"], "[[ 0.15187861]]")
    assert_printed(
        grads["dA0"],
        "[[ 0.          0.52257901] [ 0.         -0.3269206 ]"
        " [ 0.         -0.32070404] [ 0.         -0.74079187]]",
    )


def test_update_parameters(to_backend):
    parameters, grads = to_backend(cc.update_parameters_test_case())
    updated = dnn.update_parameters(parameters, grads, 0.1)
    assert_printed(
        updated["W1"],
        "[[-0.59562069 -0.09991781 -2.14584584  1.82662008] [-1.76569676 -0.80627147  0.51115557 -1.18258802]"
        " [-1.0535704  -0.86128581  0.68284052  2.20374577]]",
    )
    assert_printed(updated["b1"], "[[-0.04659241] [-1.28888275] [ 0.53405496]]")
    assert_printed(updated["W2"], "[[-0.55569196  0.0354055   1.32964895]]")
    assert_printed(updated["b2"], "[[-0.84610769]]")
    assert updated is not parameters
