"""Posteriors q(z|x) as objects: a reparameterized draw, a log-density, a location.

Each posterior is built from an encoder's output (``from_encoder_output``)
and offers the same three things to the bound that trains it:

- ``rsample(n_draws, generator, antithetic)``: differentiable draws with their
  log-density, as a :class:`PosteriorDraw`;
- ``log_prob(z)``: the log-density of given points (with ``detach()`` first,
  the log-density whose parameters get no gradient, as doubly reparameterized
  gradients need);
- ``location``: the point estimate that ``transform`` returns.
"""

from functools import lru_cache
from typing import NamedTuple

import torch
import torch.nn.functional as F

from .distributions import LOG_2PI, gaussian_kl, gaussian_kl_tril

# Log-variances are clamped to this range: wide enough for near-deterministic
# posteriors (var ~ 1e-9) yet finite, so exp() never overflows or underflows to 0.
MIN_LOG_VAR, MAX_LOG_VAR = -20.0, 10.0

__all__ = [
    "DiagonalGaussian",
    "FlowPosterior",
    "FullGaussian",
    "LogitNormal",
    "PosteriorDraw",
    "make_posterior",
    "n_posterior_params",
    "posterior_params_from_precision",
]


@lru_cache
def _tril_indices(k, device):
    """Row and column indices of a k x k lower triangle, made once per (k, device)."""
    return torch.tril_indices(k, k, device=device)


class PosteriorDraw(NamedTuple):
    """Draws from a posterior and their log-densities.

    Attributes
    ----------
    z : torch.Tensor of shape (n_draws, n_samples, n_components)
        The draws, differentiable with respect to the posterior's parameters.
    log_prob : torch.Tensor of shape (n_draws, n_samples)
        log q(z|x) of each draw.
    """

    z: torch.Tensor
    log_prob: torch.Tensor


class _Gaussian:
    """A batch of Gaussians N(loc, S S^T) with a per-row square root S of the covariance."""

    def __init__(self, loc):
        self.loc = loc

    @property
    def location(self):
        """The posterior mean, shape (n, k)."""
        return self.loc

    def _scale_noise(self, eps):
        """S eps for standard normal noise eps of shape (..., n, k)."""
        raise NotImplementedError

    def _whiten(self, deviation):
        """S^-1 (z - loc), the inverse of ``_scale_noise``."""
        raise NotImplementedError

    def _log_det_scale(self):
        """log |det S| per row, shape (n,)."""
        raise NotImplementedError

    def _log_prob_of_noise(self, eps):
        k = self.loc.shape[-1]
        return -0.5 * (k * LOG_2PI + (eps**2).sum(-1)) - self._log_det_scale()

    def rsample(self, n_draws=1, generator=None, antithetic=False, shared_noise=False):
        """Reparameterized draws z = loc + S eps.

        With ``antithetic=True`` each of the ``n_draws`` noise vectors is used
        twice, as +eps and -eps: the second half of the ``2 * n_draws`` draws
        mirrors the first. With ``shared_noise=True`` every row uses the same
        noise vectors, so that a row's draws do not depend on the other rows
        of the batch (scores invariant to row order and batching). Every draw
        is still distributed as q.
        """
        n, k = self.loc.shape
        shape = (n_draws, 1 if shared_noise else n, k)
        eps = torch.randn(shape, generator=generator, dtype=self.loc.dtype, device=self.loc.device)
        deviation = self._scale_noise(eps)
        z = self.loc + deviation
        if antithetic:
            z = torch.cat([z, self.loc - deviation])
            eps = torch.cat([eps, -eps])
        # For a draw, log q follows from eps directly: no triangular solve.
        return PosteriorDraw(z, self._log_prob_of_noise(eps))

    def log_prob(self, z):
        """log q(z|x) of points z of shape (..., n, k), one value per row."""
        return self._log_prob_of_noise(self._whiten(z - self.loc))


class DiagonalGaussian(_Gaussian):
    """The mean-field Gaussian posterior N(loc, diag(exp(log_var))).

    Parameters
    ----------
    loc, log_var : torch.Tensor of shape (n, k)
        Means and log-variances.
    """

    def __init__(self, loc, log_var):
        super().__init__(loc)
        self.log_var = log_var

    @classmethod
    def n_params(cls, n_components):
        return n_components

    @classmethod
    def from_encoder_output(cls, loc, params):
        return cls(loc, params.clamp(MIN_LOG_VAR, MAX_LOG_VAR))

    @classmethod
    def params_from_precision(cls, precision):
        """Encoder outputs of the mean-field fit to N(., precision^-1), shape (n, k).

        The diagonal Gaussian closest to it (KL from q) has variances
        1 / precision_ii, not the covariance's diagonal.
        """
        diagonal = torch.diagonal(precision, dim1=-2, dim2=-1)
        return (-torch.log(diagonal)).clamp(MIN_LOG_VAR, MAX_LOG_VAR)

    def detach(self):
        return DiagonalGaussian(self.loc.detach(), self.log_var.detach())

    def _scale_noise(self, eps):
        return torch.exp(0.5 * self.log_var) * eps

    def _whiten(self, deviation):
        return deviation * torch.exp(-0.5 * self.log_var)

    def _log_det_scale(self):
        return 0.5 * self.log_var.sum(-1)

    def kl_to_diagonal_gaussian(self, loc_p, log_var_p):
        """KL(q || N(loc_p, diag(exp(log_var_p)))), one value per row."""
        return gaussian_kl(self.loc, self.log_var, loc_p, log_var_p).sum(-1)


class FullGaussian(_Gaussian):
    """A Gaussian posterior with a full covariance L L^T, L its Cholesky factor.

    Parameters
    ----------
    loc : torch.Tensor of shape (n, k)
        Means.
    scale_tril : torch.Tensor of shape (n, k, k)
        Lower-triangular Cholesky factors with a positive diagonal.
    """

    def __init__(self, loc, scale_tril):
        super().__init__(loc)
        self.scale_tril = scale_tril

    @classmethod
    def n_params(cls, n_components):
        # The k (k + 1) / 2 entries of the Cholesky factor.
        return n_components * (n_components + 1) // 2

    @classmethod
    def from_encoder_output(cls, loc, params):
        n, k = loc.shape
        rows, cols = _tril_indices(k, loc.device)
        # Out of place, so that torch.func transforms (vmap over stacked
        # restarts) apply to the module.
        scale_tril = params.new_zeros((n, k * k)).index_copy(1, rows * k + cols, params)
        scale_tril = scale_tril.view(n, k, k)
        # The diagonal holds log standard deviations, clamped like log-variances.
        log_std = torch.diagonal(scale_tril, dim1=-2, dim2=-1).clamp(
            0.5 * MIN_LOG_VAR, 0.5 * MAX_LOG_VAR
        )
        return cls(loc, scale_tril.tril(-1) + torch.diag_embed(torch.exp(log_std)))

    @classmethod
    def params_from_precision(cls, precision):
        """Encoder outputs of N(., precision^-1), shape (n, k (k + 1) / 2)."""
        k = precision.shape[-1]
        # L L^T = P^-1 with L lower-triangular, from one Cholesky factor C of
        # P with rows and columns reversed (flip): L = flip(C^-T). Better
        # conditioned than factoring the inverse.
        chol = torch.linalg.cholesky(precision.flip(-2, -1))
        eye = torch.eye(k, dtype=precision.dtype, device=precision.device)
        inverse = torch.linalg.solve_triangular(chol, eye.expand_as(chol), upper=False)
        scale_tril = inverse.transpose(-2, -1).flip(-2, -1)
        rows, cols = _tril_indices(k, precision.device)
        params = scale_tril[:, rows, cols]
        # The diagonal holds log standard deviations (see from_encoder_output).
        log_std = torch.log(params.abs()).clamp(0.5 * MIN_LOG_VAR, 0.5 * MAX_LOG_VAR)
        return torch.where(rows == cols, log_std, params)

    def detach(self):
        return FullGaussian(self.loc.detach(), self.scale_tril.detach())

    def _scale_noise(self, eps):
        return (self.scale_tril @ eps.unsqueeze(-1)).squeeze(-1)

    def _whiten(self, deviation):
        solved = torch.linalg.solve_triangular(
            self.scale_tril, deviation.unsqueeze(-1), upper=False
        )
        return solved.squeeze(-1)

    def _log_det_scale(self):
        return torch.log(torch.diagonal(self.scale_tril, dim1=-2, dim2=-1)).sum(-1)

    def kl_to_diagonal_gaussian(self, loc_p, log_var_p):
        """KL(q || N(loc_p, diag(exp(log_var_p)))), one value per row."""
        return gaussian_kl_tril(self.loc, self.scale_tril, loc_p, log_var_p)


class LogitNormal:
    """z = sigmoid(y) with y from a Gaussian posterior: a posterior on (0, 1)^k.

    The log-density includes the change of variables,
    log q(z) = log q_y(y) - sum_i log sigmoid'(y_i). Its location is
    sigmoid(mean of y), the posterior median (not the mean), a point in (0, 1).

    Parameters
    ----------
    base : DiagonalGaussian or FullGaussian
        The Gaussian posterior of y = logit(z).
    """

    # Points are kept this far inside (0, 1), where logit() stays finite in float32.
    _EPS = 1e-6

    def __init__(self, base):
        self.base = base

    @property
    def location(self):
        return torch.sigmoid(self.base.location)

    def detach(self):
        return LogitNormal(self.base.detach())

    @staticmethod
    def _log_abs_det_sigmoid(y):
        # log sigmoid'(y) = log sigmoid(y) + log sigmoid(-y)
        return (F.logsigmoid(y) + F.logsigmoid(-y)).sum(-1)

    def rsample(self, n_draws=1, generator=None, antithetic=False, shared_noise=False):
        y, log_prob_y = self.base.rsample(n_draws, generator, antithetic, shared_noise)
        return PosteriorDraw(torch.sigmoid(y), log_prob_y - self._log_abs_det_sigmoid(y))

    def log_prob(self, z):
        y = torch.logit(z, eps=self._EPS)
        return self.base.log_prob(y) - self._log_abs_det_sigmoid(y)


class FlowPosterior:
    """z = f_x(y) with y from a Gaussian posterior and f_x an invertible flow given x.

    A posterior that need not be Gaussian (Rezende & Mohamed 2015; Kingma et
    al. 2016): the flow's layers are conditioned on the observed row x, and
    log q(z|x) = log q_y(y|x) - log |det df_x/dy|. Its location is f_x of the
    Gaussian's mean.

    Parameters
    ----------
    base : DiagonalGaussian or FullGaussian
        The Gaussian posterior of y.
    transform : zuko Transform
        The invertible map f_x, already given its context x (rows broadcast
        against the draws' leading dimension).
    """

    def __init__(self, base, transform):
        self.base = base
        self.transform = transform

    @property
    def location(self):
        return self.transform(self.base.location)

    def detach(self):
        raise NotImplementedError(
            "A flow posterior has no parameter-detached copy: doubly reparameterized "
            "gradients (dreg=True) need a Gaussian posterior."
        )

    def rsample(self, n_draws=1, generator=None, antithetic=False, shared_noise=False):
        y, log_prob_y = self.base.rsample(n_draws, generator, antithetic, shared_noise)
        z, log_abs_det = self.transform.call_and_ladj(y)
        return PosteriorDraw(z, log_prob_y - log_abs_det)

    def log_prob(self, z):
        y = self.transform.inv(z)
        return self.base.log_prob(y) - self.transform.log_abs_det_jacobian(y, z)


_GAUSSIANS = {"diag": DiagonalGaussian, "full": FullGaussian}


def n_posterior_params(covariance, n_components):
    """Number of encoder outputs, beyond the k means, for a posterior."""
    return _GAUSSIANS[covariance].n_params(n_components)


def posterior_params_from_precision(covariance, precision):
    """Encoder outputs (beyond the means) of a Gaussian posterior with that precision.

    Parameters
    ----------
    covariance : {'full', 'diag'}
        The posterior's covariance family.
    precision : torch.Tensor of shape (n, k, k)
        Symmetric positive-definite precision matrices, one per row.
    """
    return _GAUSSIANS[covariance].params_from_precision(precision)


def make_posterior(encoder_output, n_components, covariance="full", logit_normal=False):
    """The posterior q(z|x) that an encoder's output parametrizes.

    Parameters
    ----------
    encoder_output : torch.Tensor of shape (n, k + n_posterior_params)
        The k means, then the covariance's parameters.
    n_components : int
        Latent dimension k.
    covariance : {'full', 'diag'}
        Full (Cholesky) or diagonal covariance.
    logit_normal : bool
        Whether z = sigmoid(y) with y Gaussian (a posterior on (0, 1)^k).
    """
    loc, params = encoder_output[:, :n_components], encoder_output[:, n_components:]
    posterior = _GAUSSIANS[covariance].from_encoder_output(loc, params)
    return LogitNormal(posterior) if logit_normal else posterior
