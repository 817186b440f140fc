"""The identifiable VAE as a torch module: encoder, decoder, prior, one bound."""

import math

import torch
import torch.nn.functional as F
from torch import nn
from zuko.flows.autoregressive import MaskedAutoregressiveTransform
from zuko.lazy import LazyComposedTransform

from .distributions import gaussian_log_prob
from .flow import FlowLatents
from .mlp import make_mlp
from .posteriors import (
    MAX_LOG_VAR,
    MIN_LOG_VAR,
    FlowPosterior,
    make_posterior,
    n_posterior_params,
)
from .priors import make_prior

__all__ = ["IVAEModule", "make_posterior_flow"]


def make_posterior_flow(n_components, n_features, n_transforms, hidden_layer_sizes):
    """Affine coupling layers on z, each conditioned on the data row x.

    Coupling (two passes of a masked autoregressive transform) keeps both
    directions one network evaluation. The last layer of every conditioner is
    zeroed, so the flow starts at the identity and training starts from the
    Gaussian posterior.
    """
    orders = [torch.arange(n_components), torch.arange(n_components).flip(0)]
    layers = []
    for i in range(n_transforms):
        layer = MaskedAutoregressiveTransform(
            features=n_components,
            context=n_features,
            passes=min(2, n_components),
            order=orders[i % 2],
            hidden_features=tuple(hidden_layer_sizes),
        )
        # The conditioner's last weight and bias (zuko names its linear layers
        # differently for one feature and for several).
        for parameter in list(layer.hyper.parameters())[-2:]:
            nn.init.zeros_(parameter)
        layers.append(layer)
    return LazyComposedTransform(*layers)


class IVAEModule(nn.Module):
    """Identifiable VAE (Khemakhem et al. 2020) with any prior of ``priors``.

    ``forward(x, u)`` returns the per-sample bound on log p(x|u) that training
    maximizes and scoring reports: the evidence lower bound (ELBO) for
    ``n_importance_samples=1``, the importance-weighted bound (IWAE, Burda et
    al. 2016) with K samples otherwise, which is tighter and rises with K.

    Parameters
    ----------
    n_features, n_components : int
        Data and latent dimensions.
    n_aux : int
        Dimension of the (encoded) auxiliary variable; 0 without u.
    aux_kind : {'categorical', 'continuous', None}
        How u is parametrized by a conditional prior.
    hidden_layer_sizes : tuple of int
        Hidden widths of the encoder, decoder and prior MLPs.
    activation : str
        Hidden activation (see ``ACTIVATIONS``).
    observation : {'gaussian', 'bernoulli'}
        Observation model p(x|z).
    decoder_var : float or 'learn'
        Fixed variance of the Gaussian observation noise, or learned.
    source_distribution : {'gaussian', 'laplace', 'uniform'}
        Family of the factorial prior. ``'uniform'`` (isotropic prior only):
        uniform on (0, 1) with a logit-normal posterior.
    prior : {'conditional', 'isotropic', 'mixture'}
        u-dependent prior, a fixed standard one (a plain VAE), or a learned
        Gaussian mixture (no u); see ``priors.SOURCE_DISTRIBUTIONS`` for the
        valid combinations with ``source_distribution``.
    prior_mean : bool
        Whether u modulates the prior means as well as the variances.
    n_mixture_components : int
        Number of components of the mixture prior.
    mixture_covariance : {'diag', 'full'}
        Covariance of each component of the mixture prior.
    posterior_covariance : {'full', 'diag'}
        Covariance of the Gaussian posterior q(z|x): a full matrix (through
        its Cholesky factor) or a diagonal (mean field).
    n_importance_samples : int
        K, the number of importance samples of the bound.
    posterior_transforms : int
        0 for a Gaussian posterior q(z|x); otherwise that many invertible
        layers given x (masked affine coupling layers of zuko, started at the
        identity) map the Gaussian's draws, so q(z|x) can take other shapes
        (see ``FlowPosterior``).
    flow_location : bool
        Whether the posterior's location is a fitted flow's latents (a
        ``FlowLatents``, loaded by the start from a flow, never trained) plus
        the encoder's location output, which then starts at zero: the encoder
        learns a correction to the flow instead of imitating it (an MLP's
        imitation of a deep flow's latents lost much of their alignment; see
        ``IVAE``'s ``init``). Needs as many features as the flow was fitted on.
    dreg : bool
        With K > 1, train the encoder with doubly reparameterized gradients
        (DReG, Tucker et al. 2019) instead of the plain reparameterized
        gradient of the bound. Both are unbiased; measured on 2-layer
        mixings with a near-deterministic decoder, DReG trained much worse
        bounds (see the user guide), so it is off by default.
    """

    def __init__(
        self,
        n_features,
        n_components,
        n_aux=0,
        aux_kind=None,
        hidden_layer_sizes=(64, 64),
        activation="leaky_relu",
        observation="gaussian",
        decoder_var=1e-3,
        source_distribution="gaussian",
        prior="conditional",
        prior_mean=True,
        n_mixture_components=5,
        mixture_covariance="diag",
        posterior_covariance="full",
        n_importance_samples=1,
        dreg=False,
        posterior_transforms=0,
        flow_location=False,
    ):
        super().__init__()
        self.n_components = n_components
        self.posterior_covariance = posterior_covariance
        self.logit_normal = source_distribution == "uniform"
        self.observation = observation
        self.n_importance_samples = n_importance_samples
        self.dreg = dreg
        self.encoder = make_mlp(
            n_features,
            n_components + n_posterior_params(posterior_covariance, n_components),
            hidden_layer_sizes,
            activation,
        )
        self.location_base = None
        if flow_location:
            # Its random initialization is overwritten by the start: drawn
            # aside, so that the other networks start as without it.
            with torch.random.fork_rng(devices=[]):
                self.location_base = FlowLatents(
                    n_features, n_components, hidden_layer_sizes, activation
                )
            # The correction starts at zero: the location starts at the flow's.
            with torch.no_grad():
                self.encoder[-1].weight[:n_components].zero_()
                self.encoder[-1].bias[:n_components].zero_()
        self.decoder = make_mlp(n_components, n_features, hidden_layer_sizes, activation)
        self.posterior_flow = (
            make_posterior_flow(n_components, n_features, posterior_transforms, hidden_layer_sizes)
            if posterior_transforms
            else None
        )
        self.prior = make_prior(
            prior,
            source_distribution,
            n_components,
            n_aux=n_aux,
            aux_kind=aux_kind,
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            prior_mean=prior_mean,
            n_mixture_components=n_mixture_components,
            mixture_covariance=mixture_covariance,
        )
        if decoder_var == "learn":
            self.decoder_log_var = nn.Parameter(torch.full((n_features,), math.log(0.1)))
        else:
            self.register_buffer(
                "decoder_log_var", torch.full((n_features,), math.log(decoder_var))
            )

    def posterior(self, x, location_offset=None):
        """q(z|x) as a posterior object (see ``posteriors``).

        ``location_offset``: ``location_base(x)`` when it is known already
        (precomputed for the training rows: the flow is the costly part).
        """
        params = self.encoder(x)
        if self.location_base is not None:
            if location_offset is None:
                location_offset = self.location_base(x)
            k = self.n_components
            params = torch.cat([params[:, :k] + location_offset, params[:, k:]], dim=1)
        posterior = make_posterior(
            params, self.n_components, self.posterior_covariance, self.logit_normal
        )
        if self.posterior_flow is not None:
            posterior = FlowPosterior(posterior, self.posterior_flow(x))
        return posterior

    def latents(self, x):
        """The posterior location of z: the point estimate ``transform`` returns."""
        return self.posterior(x).location

    def decode(self, z):
        """Decoder output: the mean for Gaussian data, logits for Bernoulli data."""
        return self.decoder(z)

    def decode_mean(self, z):
        """E[x|z] in data space."""
        out = self.decoder(z)
        return torch.sigmoid(out) if self.observation == "bernoulli" else out

    def log_likelihood(self, x, decoded):
        """log p(x|z) summed over features."""
        if self.observation == "bernoulli":
            x = x.expand_as(decoded)
            return -F.binary_cross_entropy_with_logits(decoded, x, reduction="none").sum(-1)
        log_var = self.decoder_log_var.clamp(MIN_LOG_VAR, MAX_LOG_VAR)
        return gaussian_log_prob(x, decoded, log_var).sum(-1)

    def forward(self, x, u=None, generator=None, shared_noise=False, location_offset=None):
        """Per-sample bound on log p(x|u), shape (n,).

        The K posterior draws come in antithetic pairs z = mu +- L eps: two
        K-sample bounds, one from the +eps and one from the -eps draws, are
        averaged. With a near-deterministic decoder the first-order term of a
        single draw's reconstruction error is noise of size 1/sqrt(decoder_var)
        that drowns the prior's small identifying gradient; in the pair it
        cancels exactly for a locally linear decoder. Each draw is still
        distributed as q, so each bound (and their mean) stays a valid bound.

        With K = 1 the KL term is analytic where the prior has a closed form
        (lower variance than its one-draw estimate). With K > 1 and ``dreg``
        the encoder's gradient is the doubly reparameterized one (DReG, Tucker
        et al. 2019).

        ``generator`` and ``shared_noise`` (the same noise for every row, see
        ``rsample``) make a score deterministic and independent of batching;
        ``location_offset`` is passed on to ``posterior``.
        """
        n_draws = self.n_importance_samples
        posterior = self.posterior(x, location_offset)
        draw = posterior.rsample(n_draws, generator, antithetic=True, shared_noise=shared_noise)
        log_px = self.log_likelihood(x, self.decode(draw.z))
        if n_draws == 1:
            kl = self.prior.kl(posterior, u)
            if kl is not None:
                return log_px.mean(0) - kl
        dreg = self.dreg and n_draws > 1 and torch.is_grad_enabled()
        # DReG: log q with its parameters detached, so that the encoder gets
        # its gradient through the draws alone, then reweighted (below).
        log_q = posterior.detach().log_prob(draw.z) if dreg else draw.log_prob
        log_w = (log_px - log_q + self.prior.log_prob(draw.z, u)).unflatten(0, (2, n_draws))
        if n_draws == 1:
            return log_w.mean((0, 1))
        if dreg and draw.z.requires_grad:
            # The bound's gradient with respect to draw k carries the
            # normalized weight w_k; DReG weights it by w_k^2 instead.
            weights = torch.softmax(log_w.detach(), dim=1).flatten(0, 1)
            draw.z.register_hook(lambda grad: grad * weights.unsqueeze(-1))
        bound = torch.logsumexp(log_w, dim=1) - math.log(n_draws)
        return bound.mean(0)

    @torch.no_grad()
    def posterior_mean(self, x, u=None, n_draws=256, generator=None, u_weights=None):
        """E[z|x, u] by self-normalized importance sampling, q(z|x) the proposal.

        The weights are p(x|z) p(z|u) / q(z|x) over ``n_draws`` antithetic
        pairs of draws, the same noise for every row (so a row's result does
        not depend on the batch). With ``u_weights`` (log-weights, one per
        row of ``u``) the prior is the mixture of p(z|u) over the rows of
        ``u``, weighted so: E[z|x] under the distribution of u they describe.
        """
        draw = self.posterior(x).rsample(n_draws, generator, antithetic=True, shared_noise=True)
        log_w = self.log_likelihood(x, self.decode(draw.z)) - draw.log_prob
        if u_weights is None:
            log_w = log_w + self.prior.log_prob(draw.z, u)
        else:
            log_prior = [self.prior.log_prob(draw.z, row.expand(len(x), -1)) for row in u]
            log_w = log_w + torch.logsumexp(torch.stack(log_prior) + u_weights[:, None, None], 0)
        return (torch.softmax(log_w, dim=0).unsqueeze(-1) * draw.z).sum(0)

    @torch.no_grad()
    def sample(self, u, n_samples, generator=None):
        """Draw (z, decoder output) from the generative model, z ~ p(z|u)."""
        z = self.prior.sample(n_samples, u, generator)
        return z, self.decode(z)
