"""Starting an IVAE module at given latents, before it trains on its own bound."""

import torch
from torch import nn
from torch.func import jacrev, vmap

from ..nn.posteriors import MAX_LOG_VAR, MIN_LOG_VAR, posterior_params_from_precision

__all__ = ["start_from_latents", "start_posterior_spread"]


def start_from_latents(
    module, x, u, latents, n_steps=4000, batch_size=256, lr=3e-3, location_offset=None
):
    """Move an IVAE module to the solution given by ``latents``, in place.

    Three regressions at once, by Adam on random mini-batches: the posterior
    location q(z|x) onto ``latents``, the decoder's mean back from ``latents``
    onto x, and the prior p(z|u) to the (latents, u) pairs by maximum
    likelihood. A learned decoder variance then starts at the variance of the
    decoder's residuals. Each term reaches its own parameters only, so no
    weighting between them is needed. Last, the posterior's spread is started
    at the started model's own posterior (``start_posterior_spread``). Seeded
    by torch's global generator.

    Parameters
    ----------
    module : IVAEModule
        The initialized module (Gaussian observations).
    x : array-like of shape (n_samples, n_features)
        Standardized training rows, float32.
    u : array-like of shape (n_samples, n_aux) or None
        The encoded auxiliary variable of those rows.
    latents : array-like of shape (n_samples, n_components)
        Where the module should start, e.g. a fitted flow's latents.
    n_steps, batch_size, lr : int, int, float
        Length, batch size and learning rate of the regressions.
    location_offset : array-like of shape (n_samples, n_components) or None
        ``module.location_base(x)`` if known (see ``IVAEModule.posterior``).
    """
    device = next(module.parameters()).device
    x = torch.as_tensor(x, device=device)
    z = torch.as_tensor(latents, dtype=x.dtype, device=device)
    u = None if u is None else torch.as_tensor(u, device=device)
    offset = (
        None
        if location_offset is None
        else torch.as_tensor(location_offset, dtype=x.dtype, device=device)
    )
    optimizer = torch.optim.Adam(module.parameters(), lr=lr)
    was_training = module.training
    module.train()
    for _ in range(n_steps):
        rows = torch.randint(len(x), (min(batch_size, len(x)),), device=device)
        u_rows = None if u is None else u[rows]
        offset_rows = None if offset is None else offset[rows]
        loss = (
            ((module.posterior(x[rows], offset_rows).location - z[rows]) ** 2).mean()
            + ((module.decode(z[rows]) - x[rows]) ** 2).mean()
            - module.prior.log_prob(z[rows], u_rows).mean()
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    if isinstance(module.decoder_log_var, nn.Parameter):
        with torch.no_grad():
            residual = (module.decode(z) - x).pow(2).mean(0)
            module.decoder_log_var.copy_(residual.log().clamp(MIN_LOG_VAR, MAX_LOG_VAR))
    start_posterior_spread(module, x, u, z, n_steps // 4, batch_size, lr, offset)
    module.train(was_training)
    return module


def start_posterior_spread(
    module, x, u, latents, n_steps=1000, batch_size=256, lr=3e-3, location_offset=None
):
    """Regress the encoder's posterior spread onto the started model's posterior, in place.

    Regressing the posterior's location leaves its covariance where a random
    encoder put it: a standard deviation near 1 on unit-variance latents.
    The bound's first steps would then decode draws far from the started
    solution, and the decoder and encoder would trade the start's alignment
    for reconstruction (with this regression the recovered sources improve
    on most deep-mixing fits; see the User Guide's IVAE page, ``init``).
    Near a near-deterministic decoder g with noise covariance D, the
    model's posterior at z is about Gaussian with precision
    J^T D^-1 J + the prior's precision given u, J = dg/dz (Laplace's
    approximation; exact for a linear decoder and a Gaussian prior). The
    encoder's covariance outputs are regressed onto that one, its location
    still onto the latents, on random mini-batches with Adam.

    Parameters
    ----------
    module : IVAEModule
        The module after the regressions of ``start_from_latents``: Gaussian
        observations and a prior whose ``params(u)`` gives Gaussian-like
        locations and log-variances.
    x, u, latents : torch.Tensor
        Training rows, their encoded auxiliary variable (or None), the
        latents the module was started at.
    n_steps, batch_size, lr : int, int, float
        Length, batch size and learning rate of the regression.
    location_offset : torch.Tensor or None
        ``module.location_base(x)`` if known (see ``IVAEModule.posterior``).
    """
    k = module.n_components
    decoder_precision = torch.exp(-module.decoder_log_var.detach().clamp(MIN_LOG_VAR, MAX_LOG_VAR))
    jacobian = vmap(jacrev(module.decode))
    optimizer = torch.optim.Adam(module.encoder.parameters(), lr=lr)
    for _ in range(n_steps):
        rows = torch.randint(len(x), (min(batch_size, len(x)),), device=x.device)
        with torch.no_grad():
            J = jacobian(latents[rows])  # (batch, n_features, k)
            _, prior_log_var = module.prior.params(None if u is None else u[rows], len(rows))
            precision = J.transpose(1, 2) @ (decoder_precision[:, None] * J)
            precision = precision + torch.diag_embed(torch.exp(-prior_log_var))
            # A little jitter: the Cholesky factor must exist in float32 also
            # where the decoder is flat in some direction.
            scale = torch.diagonal(precision, dim1=-2, dim2=-1).mean(-1)[:, None, None]
            precision = precision + 1e-6 * scale * torch.eye(k, device=x.device)
            target = posterior_params_from_precision(module.posterior_covariance, precision)
        out = module.encoder(x[rows])
        location = out[:, :k]
        if module.location_base is not None:
            offset = None if location_offset is None else location_offset[rows]
            location = location + (module.location_base(x[rows]) if offset is None else offset)
        if module.posterior_flow is not None:
            # A flow posterior's location is the flow's image of the Gaussian's
            # mean (FlowPosterior); the flow itself is left as it is.
            location = module.posterior_flow(x[rows])(location)
        loss = ((location - latents[rows]) ** 2).mean() + ((out[:, k:] - target) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return module
