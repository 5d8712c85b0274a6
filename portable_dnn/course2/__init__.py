"""The second course, *Improving Deep Neural Networks*: one module per graded notebook.

- :mod:`portable_dnn.course2.initialization`: zeros, random and He initialization;
- :mod:`portable_dnn.course2.regularization`: L2 regularization and dropout;
- :mod:`portable_dnn.course2.gradient_checking`: gradient checking, 1-D and N-D;
- :mod:`portable_dnn.course2.optimization`: mini-batches, momentum, Adam, learning-rate decay.

Each holds its notebook's functions with the notebook's names and signatures, so
``from portable_dnn.course2.regularization import *`` gives a notebook its code. The
modules load on first use: importing :mod:`portable_dnn.course2` imports none of them.
"""
