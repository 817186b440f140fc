"""The discriminator of the adversarial models: an MLP that scores x as real."""

from torch import nn

from .mlp import make_mlp


class DiscriminatorNet(nn.Module):
    """MLP mapping x to one logit: large when x looks like real data.

    Parameters
    ----------
    n_features : int
        Data dimension.
    hidden_layer_sizes : tuple of int
        Hidden widths.
    activation : str
        Hidden activation (see ``ACTIVATIONS``).
    """

    def __init__(self, n_features, hidden_layer_sizes=(64, 64), activation="leaky_relu"):
        super().__init__()
        self.net = make_mlp(n_features, 1, hidden_layer_sizes, activation)

    def forward(self, x):
        return self.net(x).squeeze(-1)
