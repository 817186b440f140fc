"""The identifiable VAE as a torch module: encoder, decoder, conditional prior."""

import math

import torch
import torch.nn.functional as F
from torch import distributions as D
from torch import nn

from .distributions import (
    LOG_2PI,
    LOG_PROBS,
    gaussian_kl,
    gaussian_kl_tril,
    gaussian_log_prob,
    laplace_sample,
)
from .mlp import make_mlp

# Log-variances are clamped to this range: wide enough for near-deterministic
# posteriors (var ~ 1e-9) yet finite, so exp() never overflows or underflows to 0.
MIN_LOG_VAR, MAX_LOG_VAR = -20.0, 10.0


class ConditionalPrior(nn.Module):
    """Factorial prior p(z|u) whose mean and log-variance are functions of u.

    For a categorical u (one-hot) the map is a free table: a bias-free linear
    layer holds one mean and one log-variance per class. For a continuous u it
    is an MLP.
    """

    def __init__(self, n_aux, n_components, aux_kind, hidden_layer_sizes, activation, learn_mean):
        super().__init__()
        self.learn_mean = learn_mean
        n_out = 2 * n_components if learn_mean else n_components
        if aux_kind == "categorical":
            self.net = nn.Linear(n_aux, n_out, bias=False)
            # Distinct random starting variances per segment help break the
            # symmetry between latent dimensions from the first step.
            nn.init.normal_(self.net.weight, std=0.5)
        else:
            self.net = make_mlp(n_aux, n_out, hidden_layer_sizes, activation)

    def forward(self, u):
        out = self.net(u)
        if self.learn_mean:
            loc, log_var = out.chunk(2, dim=-1)
        else:
            log_var = out
            loc = torch.zeros_like(log_var)
        return loc, log_var.clamp(MIN_LOG_VAR, MAX_LOG_VAR)


class MixturePrior(nn.Module):
    """Learned Gaussian-mixture prior p(z) = sum_k pi_k N(z; mu_k, Sigma_k).

    The prior of Kivva et al. (2022), as in VaDE: learned mixing logits, means
    and covariances, either diagonal (``'diag'``) or full, through a Cholesky
    factor with a positive diagonal (``'full'``).
    """

    def __init__(self, n_components, n_mixture_components, covariance="diag"):
        super().__init__()
        self.covariance = covariance
        self.logits = nn.Parameter(torch.zeros(n_mixture_components))
        # Means spread at about the scale of a standard normal, so that the
        # components start distinct and inside the encoder's initial range.
        self.means = nn.Parameter(torch.randn(n_mixture_components, n_components))
        self.log_scales = nn.Parameter(
            torch.full((n_mixture_components, n_components), math.log(0.5))
        )
        if covariance == "full":
            n_off = n_components * (n_components - 1) // 2
            self.off_diagonal = nn.Parameter(torch.zeros(n_mixture_components, n_off))
        # While True, distribution() is a standard normal: the VAE is trained
        # first, and the mixture is then started from its latents (VaDE).
        self.register_buffer("pretraining", torch.tensor(False))

    def components(self):
        """The mixture's components as a batch of K distributions over z."""
        scales = torch.exp(self.log_scales.clamp(0.5 * MIN_LOG_VAR, 0.5 * MAX_LOG_VAR))
        if self.covariance == "diag":
            return D.Independent(D.Normal(self.means, scales, validate_args=False), 1)
        n_mix, n_components = self.means.shape
        rows, cols = torch.tril_indices(n_components, n_components, offset=-1)
        scale_tril = torch.diag_embed(scales)
        scale_tril = scale_tril.index_put(
            (torch.arange(n_mix)[:, None], rows[None], cols[None]), self.off_diagonal
        )
        return D.MultivariateNormal(self.means, scale_tril=scale_tril, validate_args=False)

    def distribution(self):
        """p(z) as a torch ``MixtureSameFamily``."""
        # No argument validation: a NaN parameter must give a NaN loss, which
        # the training guard handles, rather than an exception.
        if self.pretraining:
            zero = torch.zeros_like(self.means[0])
            return D.Independent(D.Normal(zero, torch.ones_like(zero), validate_args=False), 1)
        weights = D.Categorical(logits=self.logits, validate_args=False)
        return D.MixtureSameFamily(weights, self.components(), validate_args=False)

    def responsibilities(self, z):
        """Posterior probabilities p(k|z) of the components, shape (n, K)."""
        log_joint = self.components().log_prob(z[:, None, :]) + torch.log_softmax(self.logits, -1)
        return torch.softmax(log_joint, dim=-1)


class IVAEModule(nn.Module):
    """Identifiable VAE (Khemakhem et al. 2020).

    ``forward(x, u)`` returns the per-sample evidence lower bound, so that one
    module serves training (maximize its mean) and scoring.

    Parameters
    ----------
    n_features, n_components : int
        Data and latent dimensions.
    n_aux : int
        Dimension of the (encoded) auxiliary variable; 0 for an isotropic prior.
    aux_kind : {'categorical', 'continuous', None}
        How u is parametrized by the prior.
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
        uniform on (0, 1) with a logit-normal posterior, z = sigmoid(y) with y
        Gaussian.
    prior : {'conditional', 'isotropic', 'mixture'}
        u-dependent prior, a fixed standard one (a plain VAE), or a learned
        Gaussian mixture (no u).
    prior_mean : bool
        Whether u modulates the prior means as well as the variances.
    n_mixture_components : int
        Number of components of the mixture prior.
    mixture_covariance : {'diag', 'full'}
        Covariance of each component of the mixture prior.
    posterior_covariance : {'full', 'diag'}
        Covariance of the Gaussian posterior q(z|x): a full matrix (through
        its Cholesky factor) or a diagonal (mean field).
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
    ):
        super().__init__()
        self.n_components = n_components
        self.posterior_covariance = posterior_covariance
        self.observation = observation
        self.source_distribution = source_distribution
        self.prior = prior
        if posterior_covariance == "full":
            # The mean, then the k (k + 1) / 2 entries of the Cholesky factor.
            n_posterior = n_components * (n_components + 1) // 2
            self.register_buffer("tril_index", torch.tril_indices(n_components, n_components))
        else:
            n_posterior = n_components
        self.encoder = make_mlp(
            n_features, n_components + n_posterior, hidden_layer_sizes, activation
        )
        self.decoder = make_mlp(n_components, n_features, hidden_layer_sizes, activation)
        if prior == "conditional":
            self.prior_net = ConditionalPrior(
                n_aux, n_components, aux_kind, hidden_layer_sizes, activation, prior_mean
            )
        elif prior == "mixture":
            self.mixture_prior = MixturePrior(
                n_components, n_mixture_components, mixture_covariance
            )
        self.learn_decoder_var = decoder_var == "learn"
        if self.learn_decoder_var:
            self.decoder_log_var = nn.Parameter(torch.full((n_features,), math.log(0.1)))
        else:
            self.register_buffer(
                "decoder_log_var", torch.full((n_features,), math.log(decoder_var))
            )

    def encode(self, x):
        """Mean and covariance parameter of the Gaussian posterior q(z|x).

        The second output is the log-variance, shape (n, k), for a diagonal
        posterior, and the lower-triangular Cholesky factor of the covariance,
        shape (n, k, k), for a full one.
        """
        out = self.encoder(x)
        loc, rest = out[:, : self.n_components], out[:, self.n_components :]
        if self.posterior_covariance == "diag":
            return loc, rest.clamp(MIN_LOG_VAR, MAX_LOG_VAR)
        k = self.n_components
        rows, cols = self.tril_index
        scale_tril = out.new_zeros((len(x), k, k))
        scale_tril[:, rows, cols] = rest
        # The diagonal holds log standard deviations, clamped like log-variances.
        log_std = torch.diagonal(scale_tril, dim1=-2, dim2=-1).clamp(
            0.5 * MIN_LOG_VAR, 0.5 * MAX_LOG_VAR
        )
        return loc, scale_tril.tril(-1) + torch.diag_embed(torch.exp(log_std))

    def decode(self, z):
        """Decoder output: the mean for Gaussian data, logits for Bernoulli data."""
        return self.decoder(z)

    def decode_mean(self, z):
        """E[x|z] in data space."""
        out = self.decoder(z)
        return torch.sigmoid(out) if self.observation == "bernoulli" else out

    def prior_params(self, u, n_samples):
        """Location and log-variance of p(z|u), shape (n_samples, n_components)."""
        if self.prior == "conditional":
            return self.prior_net(u)
        # The buffer gives the dtype and device the module currently has.
        zeros = self.decoder_log_var.new_zeros((n_samples, self.n_components))
        return zeros, zeros

    def log_likelihood(self, x, decoded):
        """log p(x|z) summed over features."""
        if self.observation == "bernoulli":
            return -F.binary_cross_entropy_with_logits(decoded, x, reduction="none").sum(-1)
        log_var = self.decoder_log_var.clamp(MIN_LOG_VAR, MAX_LOG_VAR)
        return gaussian_log_prob(x, decoded, log_var).sum(-1)

    def posterior_location(self, x):
        """The point estimate of z that ``transform`` returns.

        The posterior mean for a Gaussian posterior; for the uniform prior,
        sigmoid of the Gaussian's mean: the median (not the mean) of the
        logit-normal posterior, a point in (0, 1).
        """
        loc = self.encode(x)[0]
        return torch.sigmoid(loc) if self.source_distribution == "uniform" else loc

    def _posterior_draw(self, x, generator=None):
        """A reparameterized draw from q(z|x), as its parts.

        Returns the posterior mean, its spread (log-variances or Cholesky
        factor, see ``encode``), the standard normal noise ``eps``, the
        deviation ``L @ eps`` and ``log |det L|``, from which
        ``log q(mean +- L eps) = -(k log 2 pi + |eps|^2) / 2 - log |det L|``.
        """
        loc_q, spread_q = self.encode(x)
        eps = torch.randn(loc_q.shape, generator=generator, dtype=loc_q.dtype, device=loc_q.device)
        if self.posterior_covariance == "diag":
            scaled_eps = torch.exp(0.5 * spread_q) * eps
            log_det = 0.5 * spread_q.sum(-1)
        else:
            scaled_eps = (spread_q @ eps.unsqueeze(-1)).squeeze(-1)
            log_det = torch.log(torch.diagonal(spread_q, dim1=-2, dim2=-1)).sum(-1)
        return loc_q, spread_q, eps, scaled_eps, log_det

    def rsample_posterior(self, x, generator=None):
        """One reparameterized z ~ q(z|x) (differentiable), shape (n, k)."""
        loc_q, _, _, scaled_eps, _ = self._posterior_draw(x, generator)
        z = loc_q + scaled_eps
        return torch.sigmoid(z) if self.source_distribution == "uniform" else z

    def _monte_carlo_elbo(self, x, generator=None):
        """ELBO with a Monte Carlo KL, log q(z|x) - log p(z), over an antithetic pair.

        Used for the mixture prior (no closed-form KL) and for the uniform prior,
        whose posterior is logit-normal: z = sigmoid(y), y ~ N(loc, cov), so
        log q(z) = log N(y) - log sigmoid'(y) and the prior density is 1 on (0, 1).
        """
        loc_q, _, eps, scaled_eps, log_det = self._posterior_draw(x, generator)
        y = torch.cat([loc_q + scaled_eps, loc_q - scaled_eps])
        log_q = (-0.5 * (self.n_components * LOG_2PI + (eps**2).sum(-1)) - log_det).repeat(2)
        if self.source_distribution == "uniform":
            z = torch.sigmoid(y)
            # log sigmoid'(y) = log sigmoid(y) + log sigmoid(-y)
            log_q = log_q - (F.logsigmoid(y) + F.logsigmoid(-y)).sum(-1)
            log_p = torch.zeros_like(log_q)
        else:
            z = y
            log_p = self.mixture_prior.distribution().log_prob(z)
        log_px = self.log_likelihood(torch.cat([x, x]), self.decode(z))
        elbo = log_px - log_q + log_p
        return 0.5 * (elbo[: len(x)] + elbo[len(x) :])

    def forward(self, x, u=None, generator=None):
        if self.prior == "mixture" or self.source_distribution == "uniform":
            return self._monte_carlo_elbo(x, generator)
        loc_q, spread_q, eps, scaled_eps, log_det = self._posterior_draw(x, generator)
        # Antithetic pair z = mu +- sigma * eps. With a near-deterministic
        # decoder, the first-order term of a single sample's reconstruction
        # error is pure noise of size 1/sqrt(decoder_var) that drowns the
        # prior's small identifying gradient; in the pair it cancels exactly
        # for a locally linear decoder. Each z is still drawn from q, so the
        # estimate of the ELBO stays unbiased.
        z = torch.cat([loc_q + scaled_eps, loc_q - scaled_eps])
        log_px = self.log_likelihood(torch.cat([x, x]), self.decode(z))
        log_px = 0.5 * (log_px[: len(x)] + log_px[len(x) :])
        z = z[: len(x)]
        loc_p, log_var_p = self.prior_params(u, x.shape[0])
        if self.source_distribution == "gaussian":
            # The analytic KL has a lower variance than its one-sample estimate.
            if self.posterior_covariance == "diag":
                kl = gaussian_kl(loc_q, spread_q, loc_p, log_var_p).sum(-1)
            else:
                kl = gaussian_kl_tril(loc_q, spread_q, loc_p, log_var_p)
        else:
            log_q = -0.5 * (self.n_components * LOG_2PI + (eps**2).sum(-1)) - log_det
            log_p = LOG_PROBS[self.source_distribution](z, loc_p, log_var_p).sum(-1)
            kl = log_q - log_p
        return log_px - kl

    @torch.no_grad()
    def sample(self, u, n_samples, generator=None):
        """Draw (z, decoder output) from the generative model, z ~ p(z|u)."""
        if self.prior == "mixture" or self.source_distribution == "uniform":
            shape = (n_samples, self.n_components)
            dtype, device = self.decoder_log_var.dtype, self.decoder_log_var.device
            if self.prior == "mixture":
                # torch.distributions draw from the global generator: fork it,
                # seeded from ``generator``, to keep the draw reproducible.
                seed = int(torch.randint(2**31 - 1, (1,), generator=generator))
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(seed)
                    z = self.mixture_prior.distribution().sample((n_samples,))
            else:
                z = torch.rand(shape, generator=generator, dtype=dtype, device=device)
            return z, self.decode(z)
        loc, log_var = self.prior_params(u, n_samples)
        if self.source_distribution == "laplace":
            z = laplace_sample(loc, log_var, generator)
        else:
            eps = torch.randn(loc.shape, generator=generator, dtype=loc.dtype, device=loc.device)
            z = loc + torch.exp(0.5 * log_var) * eps
        return z, self.decode(z)
