"""The network's pieces, each forward beside its backward: layers, activations, losses, optimizers,
learning-rate schedules, initializers, the flat parameter layout, tasks (what an output means),
metrics and the gradient check.

Nothing here knows about epochs, files or processes: the training loop (:mod:`backpropagation.training`)
and the engines (:mod:`backpropagation.engines`) string these pieces together.
"""
