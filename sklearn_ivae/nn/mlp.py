"""Multilayer perceptrons shared by every model."""

from torch import nn

ACTIVATIONS = {
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "gelu": nn.GELU,
}


def make_mlp(n_in, n_out, hidden_layer_sizes, activation="leaky_relu"):
    """Linear layers of the given widths with ``activation`` between them.

    The output layer is linear: heads that need a constraint (a positive
    variance, a probability) apply it themselves.
    """
    layers = []
    width = n_in
    for n_hidden in hidden_layer_sizes:
        layers += [nn.Linear(width, n_hidden), ACTIVATIONS[activation]()]
        width = n_hidden
    layers.append(nn.Linear(width, n_out))
    return nn.Sequential(*layers)
