"""Multilayer perceptrons shared by every model."""

from torch import nn


class Maxout(nn.Module):
    """Maximum over groups of ``pool_size`` consecutive units (Goodfellow et al. 2013).

    The activation of the TCL paper's feature extractor.
    """

    def __init__(self, pool_size=2):
        super().__init__()
        self.pool_size = pool_size

    def forward(self, x):
        return x.unflatten(-1, (-1, self.pool_size)).amax(-1)


ACTIVATIONS = {
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "maxout": Maxout,
}


def make_mlp(n_in, n_out, hidden_layer_sizes, activation="leaky_relu"):
    """Linear layers of the given widths with ``activation`` between them.

    The output layer is linear: heads that need a constraint (a positive
    variance, a probability) apply it themselves. With ``'maxout'`` each hidden
    layer computes two affine maps per unit and keeps their maximum.
    """
    pool_size = 2 if activation == "maxout" else 1
    layers = []
    width = n_in
    for n_hidden in hidden_layer_sizes:
        layers += [nn.Linear(width, pool_size * n_hidden), ACTIVATIONS[activation]()]
        width = n_hidden
    layers.append(nn.Linear(width, n_out))
    return nn.Sequential(*layers)
