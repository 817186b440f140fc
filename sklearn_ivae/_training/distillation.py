"""Starting an IVAE module at given latents, before it trains on its own bound."""

import torch
from torch import nn

from ..nn.posteriors import MAX_LOG_VAR, MIN_LOG_VAR

__all__ = ["start_from_latents"]


def start_from_latents(module, x, u, latents, n_steps=4000, batch_size=256, lr=3e-3):
    """Move an IVAE module to the solution given by ``latents``, in place.

    Three regressions at once, by Adam on random mini-batches: the posterior
    location q(z|x) onto ``latents``, the decoder's mean back from ``latents``
    onto x, and the prior p(z|u) to the (latents, u) pairs by maximum
    likelihood. A learned decoder variance then starts at the variance of the
    decoder's residuals. Each term reaches its own parameters only, so no
    weighting between them is needed. Seeded by torch's global generator.

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
    """
    device = next(module.parameters()).device
    x = torch.as_tensor(x, device=device)
    z = torch.as_tensor(latents, dtype=x.dtype, device=device)
    u = None if u is None else torch.as_tensor(u, device=device)
    optimizer = torch.optim.Adam(module.parameters(), lr=lr)
    was_training = module.training
    module.train()
    for _ in range(n_steps):
        rows = torch.randint(len(x), (min(batch_size, len(x)),), device=device)
        u_rows = None if u is None else u[rows]
        loss = (
            ((module.posterior(x[rows]).location - z[rows]) ** 2).mean()
            + ((module.decode(z[rows]) - x[rows]) ** 2).mean()
            - module.prior.log_prob(z[rows], u_rows).mean()
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    module.train(was_training)
    if isinstance(module.decoder_log_var, nn.Parameter):
        with torch.no_grad():
            residual = (module.decode(z) - x).pow(2).mean(0)
            module.decoder_log_var.copy_(residual.log().clamp(MIN_LOG_VAR, MAX_LOG_VAR))
    return module
