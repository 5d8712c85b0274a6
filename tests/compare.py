"""Comparing parameter dictionaries trained on different backends."""

import numpy as np

import portable_dnn as dnn


def largest_difference(a: dict, b: dict) -> float:
    """``max |a[k] - b[k]|`` over the keys of ``a``, whatever library and device each array is on."""
    return max(float(np.max(np.abs(dnn.to_numpy(a[k]) - dnn.to_numpy(b[k])))) for k in a)


def make_optimizer(kind: str, **settings: float):
    """The optimizer ``kind`` with those of ``settings`` it reads (tests sweep one set over all)."""
    from portable_dnn.optim import OPTIMIZERS, optimizer

    reads = OPTIMIZERS[kind].hyperparameters()
    return optimizer(kind, **{k: v for k, v in settings.items() if k in reads})
