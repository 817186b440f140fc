"""Priors p(z|u) as torch modules behind one interface.

Every prior offers:

- ``log_prob(z, u)``: log p(z|u) summed over the latent dimensions, for z of
  shape (..., n, k) (leading dimensions index draws);
- ``sample(n, u, generator)``: n draws of z;
- ``kl(posterior, u)``: KL(q(z|x) || p(z|u)) per row where it has a closed
  form, else None (the bound then estimates it by Monte Carlo).

The priors of the VAE family:

- :class:`StandardPrior`: a fixed factorial prior (standard Gaussian or
  Laplace, or uniform on (0, 1)), the plain VAE;
- :class:`ConditionalPrior`: a factorial Gaussian or Laplace prior whose
  means and variances depend on u (iVAE, iFlow);
- :class:`MixturePrior`: a learned Gaussian mixture, no u (Kivva et al. 2022).
"""

import math

import torch
from torch import distributions as D
from torch import nn

from .distributions import LOG_PROBS, laplace_sample
from .mlp import make_mlp
from .posteriors import MAX_LOG_VAR, MIN_LOG_VAR, DiagonalGaussian, FullGaussian

__all__ = [
    "ConditionalPrior",
    "MixturePrior",
    "SOURCE_DISTRIBUTIONS",
    "StandardPrior",
    "check_prior_options",
    "make_prior",
]

# The valid (prior, source_distribution) combinations; every prior works with
# either posterior covariance ('full' or 'diag').
SOURCE_DISTRIBUTIONS = {
    "conditional": ("gaussian", "laplace"),
    "isotropic": ("gaussian", "laplace", "uniform"),
    "mixture": ("gaussian",),
}


def check_prior_options(prior, source_distribution):
    """Raise a ValueError for a combination of options that has no model."""
    allowed = SOURCE_DISTRIBUTIONS[prior]
    if source_distribution not in allowed:
        raise ValueError(
            f"prior={prior!r} supports source_distribution in {list(allowed)}; got "
            f"source_distribution={source_distribution!r}."
            + (
                " A uniform prior on (0, 1) is a fixed prior: use prior='isotropic'."
                if source_distribution == "uniform"
                else ""
            )
        )


class _FactorialPrior(nn.Module):
    """A factorial prior given by a location and a log-variance per latent."""

    def __init__(self, family):
        super().__init__()
        self.family = family

    def params(self, u, n_samples):
        """Location and log-variance, each of shape (n_samples, k)."""
        raise NotImplementedError

    def log_prob(self, z, u=None):
        loc, log_var = self.params(u, z.shape[-2])
        return LOG_PROBS[self.family](z, loc, log_var).sum(-1)

    def sample(self, n_samples, u=None, generator=None):
        loc, log_var = self.params(u, n_samples)
        if self.family == "laplace":
            return laplace_sample(loc, log_var, generator)
        eps = torch.randn(loc.shape, generator=generator, dtype=loc.dtype, device=loc.device)
        return loc + torch.exp(0.5 * log_var) * eps

    def kl(self, posterior, u=None):
        if self.family != "gaussian" or not isinstance(posterior, DiagonalGaussian | FullGaussian):
            return None
        loc, log_var = self.params(u, posterior.location.shape[0])
        return posterior.kl_to_diagonal_gaussian(loc, log_var)


class StandardPrior(_FactorialPrior):
    """A fixed factorial prior: the plain VAE's.

    Parameters
    ----------
    n_components : int
        Latent dimension.
    family : {'gaussian', 'laplace', 'uniform'}
        Standard normal, Laplace of unit variance, or uniform on (0, 1).
    """

    def __init__(self, n_components, family="gaussian"):
        super().__init__(family)
        # A buffer, so that the prior follows the module's dtype and device.
        self.register_buffer("zeros", torch.zeros(n_components))

    def params(self, u, n_samples):
        zeros = self.zeros.expand(n_samples, -1)
        return zeros, zeros

    def log_prob(self, z, u=None):
        if self.family == "uniform":
            # Closed interval: a float sigmoid rounds to exactly 0 or 1 far out.
            inside = ((z >= 0) & (z <= 1)).all(-1)
            return torch.where(inside, 0.0, -math.inf).to(z.dtype)
        return super().log_prob(z, u)

    def sample(self, n_samples, u=None, generator=None):
        if self.family == "uniform":
            shape = (n_samples, len(self.zeros))
            return torch.rand(
                shape, generator=generator, dtype=self.zeros.dtype, device=self.zeros.device
            )
        return super().sample(n_samples, u, generator)


class ConditionalPrior(_FactorialPrior):
    """Factorial prior p(z|u) whose means and log-variances are functions of u.

    For a categorical u (one-hot) the map is a free table: a bias-free linear
    layer holds one mean and one log-variance per class. For a continuous u it
    is an MLP.

    Parameters
    ----------
    n_aux : int
        Dimension of the encoded u.
    n_components : int
        Latent dimension.
    aux_kind : {'categorical', 'continuous'}
        A table (one-hot u) or an MLP.
    hidden_layer_sizes : tuple of int
        Hidden widths of the MLP (continuous u).
    activation : str
        Hidden activation of the MLP.
    learn_mean : bool
        Whether u modulates the means as well as the variances.
    family : {'gaussian', 'laplace'}
        Family of each factor.
    """

    def __init__(
        self,
        n_aux,
        n_components,
        aux_kind,
        hidden_layer_sizes=(64, 64),
        activation="leaky_relu",
        learn_mean=True,
        family="gaussian",
    ):
        super().__init__(family)
        self.learn_mean = learn_mean
        n_out = 2 * n_components if learn_mean else n_components
        if aux_kind == "categorical":
            self.net = nn.Linear(n_aux, n_out, bias=False)
            # Distinct random starting variances per segment help break the
            # symmetry between latent dimensions from the first step.
            nn.init.normal_(self.net.weight, std=0.5)
        else:
            self.net = make_mlp(n_aux, n_out, hidden_layer_sizes, activation)

    def params(self, u, n_samples=None):
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
    factor with a positive diagonal (``'full'``). While ``pretraining`` is
    set, the prior is a standard normal: the VAE learns the shape of the data
    first, and the mixture is then started from its latents
    (:meth:`set_mixture`).

    Parameters
    ----------
    n_components : int
        Latent dimension.
    n_mixture_components : int
        Number of mixture components.
    covariance : {'diag', 'full'}
        Covariance of each component.
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
        self.register_buffer("pretraining", torch.tensor(False))

    def components(self):
        """The mixture's components as a batch of K distributions over z."""
        scales = torch.exp(self.log_scales.clamp(0.5 * MIN_LOG_VAR, 0.5 * MAX_LOG_VAR))
        # No argument validation: a NaN parameter must give a NaN loss, which
        # the training guard handles, rather than an exception.
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
        """p(z) as a torch distribution (a standard normal while pretraining)."""
        if self.pretraining:
            zero = torch.zeros_like(self.means[0])
            return D.Independent(D.Normal(zero, torch.ones_like(zero), validate_args=False), 1)
        weights = D.Categorical(logits=self.logits, validate_args=False)
        return D.MixtureSameFamily(weights, self.components(), validate_args=False)

    def log_prob(self, z, u=None):
        return self.distribution().log_prob(z)

    def sample(self, n_samples, u=None, generator=None):
        # torch.distributions draw from the global generator: fork it, seeded
        # from ``generator``, to keep the draw reproducible.
        seed = int(torch.randint(2**31 - 1, (1,), generator=generator))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return self.distribution().sample((n_samples,))

    def kl(self, posterior, u=None):
        return None  # no closed form for a mixture

    def responsibilities(self, z):
        """Posterior probabilities p(k|z) of the components, shape (n, K)."""
        log_joint = self.components().log_prob(z[:, None, :]) + torch.log_softmax(self.logits, -1)
        return torch.softmax(log_joint, dim=-1)

    @torch.no_grad()
    def set_mixture(self, weights, means, covariances):
        """Start the mixture at given parameters and end the pretraining.

        ``covariances`` are per-dimension variances (n_mix, k) for ``'diag'``
        and full matrices (n_mix, k, k) for ``'full'``, as
        ``sklearn.mixture.GaussianMixture`` gives them.
        """
        # Computed in float64, then cast by copy_ to the parameters' dtype.
        weights, means, covariances = (
            torch.tensor(a, dtype=torch.float64) for a in (weights, means, covariances)
        )
        self.pretraining.fill_(False)
        self.logits.copy_(torch.log(weights))
        self.means.copy_(means)
        if self.covariance == "diag":
            self.log_scales.copy_(0.5 * torch.log(covariances))
        else:
            cholesky = torch.linalg.cholesky(covariances)
            rows, cols = torch.tril_indices(*cholesky.shape[-2:], offset=-1)
            self.log_scales.copy_(torch.log(torch.diagonal(cholesky, dim1=-2, dim2=-1)))
            self.off_diagonal.copy_(cholesky[:, rows, cols])

    @torch.no_grad()
    def export(self):
        """(weights, means, full covariance matrices) as float64 tensors."""
        components = self.components()
        if self.covariance == "diag":
            covariances = torch.diag_embed(components.variance)
        else:
            covariances = components.covariance_matrix
        weights = torch.softmax(self.logits.detach().double(), -1)
        return weights, self.means.detach().double(), covariances.detach().double()


def make_prior(
    prior,
    source_distribution,
    n_components,
    n_aux=0,
    aux_kind=None,
    hidden_layer_sizes=(64, 64),
    activation="leaky_relu",
    prior_mean=True,
    n_mixture_components=5,
    mixture_covariance="diag",
):
    """The prior module named by the estimator's options."""
    check_prior_options(prior, source_distribution)
    if prior == "conditional":
        return ConditionalPrior(
            n_aux,
            n_components,
            aux_kind,
            hidden_layer_sizes,
            activation,
            prior_mean,
            family=source_distribution,
        )
    if prior == "mixture":
        return MixturePrior(n_components, n_mixture_components, mixture_covariance)
    return StandardPrior(n_components, family=source_distribution)
