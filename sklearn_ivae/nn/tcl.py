"""Contrastive nonlinear ICA (TCL and GCL) as a torch module."""

import torch
import torch.nn.functional as F
from torch import nn

from .mlp import make_mlp

FEATURE_NONLINEARITIES = {
    "abs": torch.abs,
    "square": torch.square,
    "identity": lambda h: h,
}


class ContrastiveModule(nn.Module):
    """Feature extractor h(x) trained by a contrastive classification task.

    ``variant='tcl'`` (Hyvärinen & Morioka 2016): multinomial logistic
    regression of the segment label on h(x); ``u`` is one-hot.

    ``variant='gcl'`` (Hyvärinen, Sasaki & Turner 2019): logistic regression
    telling true pairs (x_i, u_i) from the shuffled pairs (x_i, u_j), j != i,
    of the batch, with the regression function
    ``r(x, u) = sum_i h_i(x) lambda_i(u) + sum_i (a_i h_i + c_i h_i^2) + b(u)``:
    the exponential-family form of log p(x, u) / (p(x) p(u)), with an MLP for
    lambda and b.

    A decoder is trained beside the features on ``h(x).detach()`` to give
    ``inverse_transform`` a map back to x; the detach keeps it from changing
    the features.

    ``forward(x, u)`` returns the per-sample objective to maximize: the
    contrastive log-likelihood plus the decoder's (unit-variance Gaussian)
    reconstruction log-likelihood. ``log_likelihood(x, u)`` is the contrastive
    part alone.

    Parameters
    ----------
    n_features, n_components : int
        Data and feature dimensions.
    n_aux : int
        Number of segments (tcl) or dimension of u (gcl).
    variant : {'tcl', 'gcl'}
        Contrastive task.
    hidden_layer_sizes : tuple of int
        Hidden widths of the feature MLP (and of the decoder and lambda MLPs).
    activation : str
        Hidden activation (see ``ACTIVATIONS``).
    feature_nonlinearity : {'abs', 'square', 'identity'}
        Applied to the last (feature) layer.
    """

    def __init__(
        self,
        n_features,
        n_components,
        n_aux,
        variant="tcl",
        hidden_layer_sizes=(64, 64),
        activation="maxout",
        feature_nonlinearity="abs",
    ):
        super().__init__()
        self.variant = variant
        self.feature_nonlinearity = feature_nonlinearity
        self.feature_net = make_mlp(n_features, n_components, hidden_layer_sizes, activation)
        if variant == "tcl":
            self.classifier = nn.Linear(n_components, n_aux)
        else:
            self.aux_net = make_mlp(n_aux, n_components + 1, hidden_layer_sizes, activation)
            self.feature_linear = nn.Parameter(torch.zeros(n_components))
            self.feature_quadratic = nn.Parameter(torch.zeros(n_components))
        # The decoder's activation is smooth whatever the feature MLP uses.
        self.decoder = make_mlp(n_components, n_features, hidden_layer_sizes, "leaky_relu")

    def features(self, x):
        """h(x): the learned sufficient statistics of the sources."""
        return FEATURE_NONLINEARITIES[self.feature_nonlinearity](self.feature_net(x))

    def _pair_logits(self, h, u):
        """r(x_i, u_j) for every pair of rows i, j of a batch."""
        lam, bias = self.aux_net(u).split([h.shape[-1], 1], dim=-1)
        per_x = (h * self.feature_linear + h.square() * self.feature_quadratic).sum(-1)
        return h @ lam.T + per_x[:, None] + bias.squeeze(-1)[None, :]

    def _contrastive_log_likelihood(self, h, u):
        if self.variant == "tcl":
            return (F.log_softmax(self.classifier(h), dim=-1) * u).sum(-1)
        # Every other u of the batch serves as a shuffled pair for x_i: far
        # less noisy than one random shuffle, at the cost of a batch x batch
        # matrix of logits.
        logits = self._pair_logits(h, u)
        positive = F.logsigmoid(logits.diagonal())
        n = len(u)
        if n == 1:
            return positive
        off_diagonal = ~torch.eye(n, dtype=torch.bool, device=u.device)
        negative = (F.logsigmoid(-logits) * off_diagonal).sum(-1) / (n - 1)
        # Log-probability of classifying the true pair, and (on average) a
        # shuffled pair, right.
        return positive + negative

    def log_likelihood(self, x, u):
        """Per-sample log-probability of the right answer in the contrastive task."""
        return self._contrastive_log_likelihood(self.features(x), u)

    def forward(self, x, u):
        h = self.features(x)
        reconstruction = self.decoder(h.detach())
        log_px = -0.5 * (x - reconstruction).square().sum(-1)
        return self._contrastive_log_likelihood(h, u) + log_px
