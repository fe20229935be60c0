"""Optimizers: ``step(params, grads, lr)`` updates the whole flat parameter vector in place.

Every optimizer works on the network's one contiguous parameter vector and its gradient, so an
update is a handful of vectorised calls whatever the depth of the network; a running average
(velocity, moments) is scaled and added to in place, which computes the same sums as its formula
without a temporary copy of the whole vector. The update rules and
their default hyper-parameters follow ``torch.optim`` (the reference our tests compare against):

==========  =========================================================================
SGD         ``p -= lr g``
momentum    ``v = μ v + g;  p -= lr v``          (μ = 0.9)
Nesterov    ``v = μ v + g;  p -= lr (g + μ v)``  (μ = 0.9)
RMSProp     ``s = ρ s + (1 - ρ) g²;  p -= lr g / (√s + ε)``
Adam        ``m = β1 m + (1 - β1) g;  s = β2 s + (1 - β2) g²;``
            ``p -= lr/(1 - β1ᵗ) · m / (√s / √(1 - β2ᵗ) + ε)``
AdamW       ``p *= 1 - lr λ``, then the Adam step (decay decoupled from the gradient)
==========  =========================================================================

State (velocities, moments, step count) lives in the optimizer, apart from the parameters, and is
kept across calls to ``fit`` so that training can continue where it stopped.
"""

from __future__ import annotations

import math

import numpy as np

from .._registry import Component, Registry
from ..data import check_range


class DecayRate:
    """A decay rate in [0, 1), checked whenever it is set (so it may change between steps)."""

    def __set_name__(self, owner, name: str) -> None:
        self.name = name

    def __get__(self, obj, owner=None):
        return self if obj is None else obj.__dict__[self.name]

    def __set__(self, obj, value) -> None:
        obj.__dict__[self.name] = check_range(self.name, value, 0.0, 1.0)


class Optimizer(Component):
    """Base class: implement ``step``; list state arrays in ``_state_names``."""

    name = "optimizer"
    _state_names: tuple[str, ...] = ()
    #: State arrays that are sums of squares, so a saved negative value is corrupt.
    _nonnegative_state: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.iterations = 0

    def step(self, params: np.ndarray, grads: np.ndarray, lr: float) -> None:
        """Update ``params`` in place from ``grads`` with learning rate ``lr``."""
        raise NotImplementedError

    def _ensure_state(self, params: np.ndarray) -> None:
        """Allocate zeroed state arrays like ``params``, once (again if ``params`` changes shape
        or dtype)."""
        if getattr(self, "_allocated_for", None) != (params.shape, params.dtype):
            self._allocate(params)

    def _allocate(self, params: np.ndarray) -> None:
        """Zeroed state arrays for a parameter vector like ``params``."""
        self._allocated_for = (params.shape, params.dtype)
        for state in self._state_names:
            setattr(self, state, np.zeros_like(params))

    def state_arrays(self, params: np.ndarray) -> dict[str, np.ndarray]:
        """The state arrays for ``params``, allocated (zeroed) on first use, for an engine that
        updates them in place (then sets ``iterations`` to the steps it took)."""
        self._ensure_state(params)
        return {state: getattr(self, state) for state in self._state_names}

    def reset(self) -> None:
        """Forget all state, as if no step had been taken."""
        self.iterations = 0
        self._allocated_for = None
        for state in self._state_names:
            setattr(self, state, None)

    def get_state(self) -> dict[str, np.ndarray]:
        """State arrays (for saving); empty before the first step."""
        if getattr(self, "_allocated_for", None) is None:
            return {}
        return {state: getattr(self, state) for state in self._state_names}

    def upgraded_state(self, state: dict[str, np.ndarray], version: int) -> dict[str, np.ndarray]:
        """``state`` as read from a model file of format ``version``, in today's layout."""
        return state

    def check_state(self, state: dict[str, np.ndarray]) -> None:
        """ValueError unless ``state`` is one this optimizer can take up: every array it keeps,
        no other, all finite (and sums of squares not negative). Saving checks what loading will."""
        missing = [name for name in self._state_names if state and name not in state]
        if missing:
            raise ValueError(f"optimizer state: missing {', '.join(missing)}")
        unknown = [name for name in state if name not in self._state_names]
        if unknown:
            raise ValueError(f"optimizer state {unknown[0]!r}: {type(self).__name__} keeps no such array")
        for name, value in state.items():
            if not np.isfinite(value).all():
                raise ValueError(f"optimizer state {name!r}: contains non-finite values")
            if name in self._nonnegative_state and (value < 0).any():
                raise ValueError(f"optimizer state {name!r}: a running mean of squares cannot be negative")

    def set_state(self, state: dict[str, np.ndarray], iterations: int, params: np.ndarray) -> None:
        """Restore state saved by :meth:`get_state` for a parameter vector like ``params``."""
        if type(iterations) is not int or iterations < 0:
            raise ValueError(f"optimizer iterations: expected an integer >= 0, got {iterations!r}")
        self.check_state(state)
        self.reset()
        self.iterations = iterations
        if not state:
            return
        self._ensure_state(params)
        for name in self._state_names:
            getattr(self, name)[...] = state[name]


#: Bytes of each flat vector an update reads and writes at a time: the formula's temporaries then
#: stay in the processor's cache instead of making one pass over memory per operation (Adam over
#: 535,818 parameters, bench/README.md: 128 KiB pieces beat 64 and 256 KiB in float32 and float64).
PIECE_BYTES = 1 << 17


def in_pieces(*arrays: np.ndarray):
    """The same consecutive pieces of each flat array (views), :data:`PIECE_BYTES` of the first at a time."""
    n, piece = len(arrays[0]), max(1, PIECE_BYTES // arrays[0].itemsize)
    for start in range(0, n, piece):
        yield tuple(array[start:start + piece] for array in arrays)


registry: Registry[Optimizer] = Registry("optimizer", Optimizer)
#: ``register(name)`` decorates a class; ``get(name_or_instance)`` returns an instance;
#: ``names()`` lists the registered names.
register, get, names = registry.register, registry.get, registry.names


@register("sgd")
class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum.

    Parameters
    ----------
    momentum : float, default 0.0
        Velocity decay μ in [0, 1).
    nesterov : bool, default False
        Use Nesterov's look-ahead form (needs ``momentum > 0``).
    """

    _state_names = ("velocity",)

    def __init__(self, momentum: float = 0.0, nesterov: bool = False) -> None:
        super().__init__()
        self.momentum = check_range("momentum", momentum, 0.0, 1.0)
        if nesterov and self.momentum == 0:
            raise ValueError("nesterov: Nesterov momentum needs momentum > 0, got momentum=0")
        self.nesterov = bool(nesterov)

    def step(self, params, grads, lr):
        self._ensure_state(params)
        self.iterations += 1
        lr = float(lr)
        for p, g, velocity in in_pieces(params, grads, self.velocity):
            direction = g
            if self.momentum:
                velocity *= self.momentum
                velocity += g                                                      # v = μ v + g
                direction = self.momentum * velocity + g if self.nesterov else velocity
            p -= direction * lr                                                    # p -= lr · direction

    def get_config(self):
        return {"momentum": self.momentum, "nesterov": self.nesterov}


@register("momentum")
def _momentum(momentum: float = 0.9, nesterov: bool = False) -> SGD:
    return SGD(momentum=momentum, nesterov=nesterov)


@register("nesterov")
def _nesterov(momentum: float = 0.9, nesterov: bool = True) -> SGD:
    return SGD(momentum=momentum, nesterov=nesterov)


@register("rmsprop")
class RMSProp(Optimizer):
    """Divide each step by a running root mean square of recent gradients.

    Parameters
    ----------
    rho : float, default 0.9
        Decay of the running mean of squared gradients (``alpha`` in PyTorch).
    epsilon : float, default 1e-8
        Added to the root mean square (outside the square root, as PyTorch does).
    """

    _state_names = ("mean_square",)
    _nonnegative_state = ("mean_square",)

    def __init__(self, rho: float = 0.9, epsilon: float = 1e-8) -> None:
        super().__init__()
        self.rho = check_range("rho", rho, 0.0, 1.0)
        self.epsilon = check_range("epsilon", epsilon, 0.0, low_open=True)

    def step(self, params, grads, lr):
        self._ensure_state(params)
        self.iterations += 1
        for p, g, s in in_pieces(params, grads, self.mean_square):
            s *= self.rho
            s += (1.0 - self.rho) * g**2                                           # s = ρ s + (1 - ρ) g²
            p -= g / (np.sqrt(s) + self.epsilon) * float(lr)                       # p -= lr g / (√s + ε)

    def get_config(self):
        return {"rho": self.rho, "epsilon": self.epsilon}


@register("adam")
class Adam(Optimizer):
    """Adaptive moment estimation (Kingma & Ba), with bias-corrected moments, as ``torch.optim.Adam``.

    Each step, with gradient ``g`` and step count ``t``::

        m = β1 m + (1 - β1) g              first moment (mean of gradients)
        v = β2 v + (1 - β2) g²             second moment (mean of squared gradients)
        m̂ = m / (1 - β1ᵗ),  v̂ = v / (1 - β2ᵗ)
        params -= lr m̂ / (√v̂ + ε)

    Parameters
    ----------
    beta_1, beta_2 : float, default 0.9, 0.999
        Decay rates of the first and second moment estimates, in [0, 1); they may be changed
        between steps (the moments carry over, as in PyTorch).
    epsilon : float, default 1e-8
        Added to ``√v̂`` (outside the root, as PyTorch).

    Attributes
    ----------
    m, v : ndarray or None
        The moments, one entry per parameter (None before the first step).
    """

    beta_1 = DecayRate()
    beta_2 = DecayRate()
    _state_names = ("m", "v")
    _nonnegative_state = ("v",)

    def __init__(self, beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-8) -> None:
        super().__init__()
        self.beta_1, self.beta_2 = beta_1, beta_2
        self.epsilon = check_range("epsilon", epsilon, 0.0, low_open=True)

    def step(self, params, grads, lr):
        self._ensure_state(params)
        self.iterations += 1
        self._adam_update(params, grads, lr)

    def _adam_update(self, params, grads, lr):
        t = self.iterations
        # p -= lr m̂ / (√v̂ + ε) with m̂ = m / (1 - β1ᵗ), v̂ = v / (1 - β2ᵗ), in torch.optim.Adam's order:
        step_size, root = float(lr) / (1.0 - self.beta_1**t), math.sqrt(1.0 - self.beta_2**t)
        for p, g, m, v in in_pieces(params, grads, self.m, self.v):
            m *= self.beta_1
            m += (1.0 - self.beta_1) * g                                            # m = β1 m + (1 - β1) g
            v *= self.beta_2
            v += (1.0 - self.beta_2) * g**2                                         # v = β2 v + (1 - β2) g²
            p -= m / (np.sqrt(v) / root + self.epsilon) * step_size

    def upgraded_state(self, state: dict[str, np.ndarray], version: int) -> dict[str, np.ndarray]:
        # Model files of format 2 kept Adam's moments without their (1 - β) factors.
        if version == 2 and state:
            return {"m": (1.0 - self.beta_1) * state["m_sum"], "v": (1.0 - self.beta_2) * state["v_sum"]}
        return state

    def get_config(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


@register("adamw")
class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): ``p *= 1 - lr λ`` before each step.

    The decay applies to the whole parameter vector, biases included, as in ``torch.optim.AdamW``.
    For a penalty on weights only, use the network's ``l2`` argument instead.

    Parameters
    ----------
    weight_decay : float, default 0.01
        Decay rate λ >= 0.
    """

    def __init__(self, beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-8,
                 weight_decay: float = 0.01) -> None:
        super().__init__(beta_1, beta_2, epsilon)
        self.weight_decay = check_range("weight_decay", weight_decay, 0.0)

    def step(self, params, grads, lr):
        self._ensure_state(params)
        self.iterations += 1
        for (p,) in in_pieces(params):
            p *= 1.0 - lr * self.weight_decay                                      # p *= 1 - lr λ
        self._adam_update(params, grads, lr)

    def get_config(self):
        return {**super().get_config(), "weight_decay": self.weight_decay}
