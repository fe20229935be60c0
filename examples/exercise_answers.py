"""Answers to the exercises (notebooks exercise_backward and exercise_optimizer): try them first.

    python examples/exercise_answers.py      # runs each answer through its check
"""

import numpy as np

from backpropagation.explain.exercises import check_backward, check_optimizer


def backward(X, Y, W1, b1, Z1, A1, W2, b2, Y_hat):
    """The backward pass of the 2-3-1 tanh network for the mean squared error."""
    N = len(X)
    delta2 = 2 * (Y_hat - Y) / N            # MSE's derivative, times the linear output's slope 1
    dW2 = A1.T @ delta2                     # (A¹)ᵀ Δ²: summed over the rows
    db2 = delta2.sum(axis=0)
    dA1 = delta2 @ W2.T                     # Δ² (W²)ᵀ
    delta1 = dA1 * (1 - A1**2)              # ⊙ tanh'(Z¹) = 1 − tanh²
    dW1 = X.T @ delta1
    db1 = delta1.sum(axis=0)
    return {"delta2": delta2, "dW2": dW2, "db2": db2, "dA1": dA1, "delta1": delta1, "dW1": dW1, "db1": db1}


def momentum_step(W, g, v, lr, momentum):
    """One momentum step: (v, W)."""
    v = momentum * v + g
    return v, W - lr * v


def adam_step(W, g, m, v, t, lr, beta_1, beta_2, epsilon):
    """One Adam step: (m, v, W)."""
    m = beta_1 * m + (1 - beta_1) * g
    v = beta_2 * v + (1 - beta_2) * g**2
    m_hat, v_hat = m / (1 - beta_1**t), v / (1 - beta_2**t)
    return m, v, W - lr * m_hat / (np.sqrt(v_hat) + epsilon)


if __name__ == "__main__":
    for verdict in (check_backward(backward), check_optimizer(momentum_step, "momentum"),
                    check_optimizer(adam_step, "adam")):
        print(verdict)
        assert verdict.passed
