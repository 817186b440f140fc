"""Log-densities parametrized by log-variances, for numerical stability.

Every distribution is parametrized by its location and the log of its
variance, so that the variance is positive by construction and never
overflows in the forward pass.
"""

import math

import torch

LOG_2PI = math.log(2 * math.pi)
LOG_2 = math.log(2)


def gaussian_log_prob(x, loc, log_var):
    """Elementwise log N(x; loc, exp(log_var))."""
    return -0.5 * (LOG_2PI + log_var + (x - loc) ** 2 * torch.exp(-log_var))


def laplace_log_prob(x, loc, log_var):
    """Elementwise log Laplace(x; loc, b) with variance exp(log_var) = 2 b^2."""
    log_b = 0.5 * (log_var - LOG_2)
    return -LOG_2 - log_b - torch.abs(x - loc) * torch.exp(-log_b)


def gaussian_kl(loc_q, log_var_q, loc_p, log_var_p):
    """Elementwise KL(N(loc_q, var_q) || N(loc_p, var_p))."""
    return 0.5 * (
        log_var_p
        - log_var_q
        + (torch.exp(log_var_q) + (loc_q - loc_p) ** 2) * torch.exp(-log_var_p)
        - 1.0
    )


def gaussian_kl_tril(loc_q, scale_tril_q, loc_p, log_var_p):
    """KL(N(loc_q, L L^T) || N(loc_p, diag(exp(log_var_p)))), one value per row.

    ``scale_tril_q`` is the lower-triangular Cholesky factor L of the
    posterior covariance, of shape (n, k, k), with a positive diagonal.
    """
    log_det_q = 2 * torch.log(torch.diagonal(scale_tril_q, dim1=-2, dim2=-1)).sum(-1)
    precision_p = torch.exp(-log_var_p)
    # tr(diag(1/var_p) L L^T) = sum_ij L_ij^2 / var_p_i
    trace = ((scale_tril_q**2).sum(-1) * precision_p).sum(-1)
    mahalanobis = ((loc_q - loc_p) ** 2 * precision_p).sum(-1)
    return 0.5 * (log_var_p.sum(-1) - log_det_q + trace + mahalanobis - loc_q.shape[-1])


def laplace_sample(loc, log_var, generator=None):
    """Draw from a Laplace distribution with the given location and variance."""
    b = torch.exp(0.5 * (log_var - LOG_2))
    uniform = torch.rand(loc.shape, generator=generator, dtype=loc.dtype, device=loc.device)
    uniform = uniform.clamp(1e-7, 1 - 1e-7) - 0.5
    return loc - b * torch.sign(uniform) * torch.log1p(-2 * torch.abs(uniform))


LOG_PROBS = {"gaussian": gaussian_log_prob, "laplace": laplace_log_prob}
