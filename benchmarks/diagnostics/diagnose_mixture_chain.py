"""Does gradient training of the whole inverse chain, relaxed and restarted, find the mixing?

The piecewise-affine flow trained from its own start settles near a linear
map on ``make_mixture_latents`` draws far from affine, while the true inverse
mixing has a far higher likelihood (``diagnose_mixture_deep.py``); the kink
search gets further but stops short (``diagnose_mixture_greedy.py``). This
script asks whether an optimizer of the whole chain at once does better when
the two obstacles of gradient training are taken away:

- **no hidden boundary term**: each leaky ReLU is replaced by its smooth
  relaxation ``a x + (1 - a) tau softplus(x / tau)`` (slope 1 above the kink,
  ``a`` below; exact log-determinant ``log(a + (1 - a) sigmoid(x / tau))``),
  so a kink's position has a true gradient; ``tau`` falls geometrically from
  ``--tau-start`` to ``--tau-end`` (in units of the standardized data) over
  the training, and the likelihood and R^2 are read with the hard leaky ReLU;
- **many starts**: ``--restarts`` chains trained side by side, each with a
  random orthogonal map before every layer, kinks through random rows, random
  log-slopes in ``[-1, 1]`` and its own 3-component full-covariance mixture
  prior (means at random latents), full batch, Adam at ``--lr`` for
  ``--steps`` steps; with ``--em-every k`` the mixture is also refitted by one
  EM step on the current latents every k steps.

The model has ``n_layers - 1`` leaky-ReLU layers, as many as the mixing, so
the true inverse is one of its settings. Each row is one restart: its
likelihood (nats per row of standardized X; the true model's beside it) and
the affine R^2 of the true latents on 5,000 fresh rows. Two controls per
seed: ``truth``, the model set to the true inverse mixing and mixture (its
likelihood must be the true log-density, its R^2 1), and ``truth_trained``,
that chain trained with the restarts (does the relaxed training keep the
truth?). If the restart with the highest likelihood reaches R^2 near 1,
restarts chosen by likelihood would do; if every restart stays well below
the true likelihood, the optimizer, not the selection, stops the fits.

    OMP_NUM_THREADS=1 python benchmarks/diagnostics/diagnose_mixture_chain.py --seeds 0 1 2 3 4 \\
        --out benchmarks/recorded/diagnostics/mixture_chain.csv
    OMP_NUM_THREADS=1 python benchmarks/diagnostics/diagnose_mixture_chain.py --seeds 0 1 2 3 4 \\
        --tau-start 0.05 --out benchmarks/recorded/diagnostics/mixture_chain.csv
    OMP_NUM_THREADS=1 python benchmarks/diagnostics/diagnose_mixture_chain.py --seeds 0 1 2 3 4 \\
        --em-every 10 --out benchmarks/recorded/diagnostics/mixture_chain.csv
"""

import argparse
import time

import numpy as np
import torch
from _shared import append_csv_row, print_row
from torch.distributions import Categorical, MixtureSameFamily, MultivariateNormal

from sklearn_ivae.datasets import _draw_mixture_latents
from sklearn_ivae.metrics import affine_r2_score

N_CLUSTERS, N_ROWS = 3, 5000


def leaky_relu(x, log_slope, tau):
    """The leaky ReLU (``tau`` None) or its smooth relaxation, and the log-derivative."""
    a = log_slope.exp()
    if tau is None:
        negative = x < 0
        return torch.where(negative, a * x, x), torch.where(negative, log_slope, 0.0)
    y = a * x + (1 - a) * tau * torch.nn.functional.softplus(x / tau)
    return y, torch.log(a + (1 - a) * torch.sigmoid(x / tau))


def random_rotations(shape, n_features, generator):
    gaussian = torch.randn(*shape, n_features, n_features, generator=generator)
    q, r = torch.linalg.qr(gaussian)
    return q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1))[..., None, :]


class Chains(torch.nn.Module):
    """``n_restarts`` inverse chains x -> W_L s(... s(W_0 x + b_0) ...) + b_L, and their priors."""

    def __init__(self, x, n_restarts, n_layers, generator):
        super().__init__()
        n_features = x.shape[1]
        self.n_layers = n_layers
        self.weight = torch.nn.Parameter(
            random_rotations((n_restarts, n_layers + 1), n_features, generator)
        )
        self.bias = torch.nn.Parameter(torch.zeros(n_restarts, n_layers + 1, n_features))
        self.log_slope = torch.nn.Parameter(
            2 * torch.rand(n_restarts, n_layers, n_features, generator=generator) - 1
        )
        with torch.no_grad():
            h = x.expand(n_restarts, -1, -1)
            units = torch.arange(n_features)
            for layer in range(n_layers):
                h = h @ self.weight[:, layer].mT
                # Each unit's kink through a random row, so that every kink cuts the data.
                rows = torch.randint(len(x), (n_restarts, n_features), generator=generator)
                self.bias[:, layer] = -h[torch.arange(n_restarts)[:, None], rows, units]
                h = h + self.bias[:, layer, None]
                h, _ = leaky_relu(h, self.log_slope[:, layer, None], None)
            z = h @ self.weight[:, n_layers].mT
            mean, std = z.mean(1), z.std(1)
            self.weight[:, n_layers] /= std[..., None]
            self.bias[:, n_layers] = -mean / std
            z = (z - mean[:, None]) / std[:, None]
            rows = torch.randint(len(x), (n_restarts, N_CLUSTERS), generator=generator)
            means = z[torch.arange(n_restarts)[:, None], rows]
        self.means = torch.nn.Parameter(means.clone())
        self.logits = torch.nn.Parameter(torch.zeros(n_restarts, N_CLUSTERS))
        tril = 0.7 * torch.eye(n_features).repeat(n_restarts, N_CLUSTERS, 1, 1)
        self.tril = torch.nn.Parameter(tril)

    def latents(self, x, tau):
        """Each restart's latents (restarts, rows, features) and log |det| (restarts, rows)."""
        h = x.expand(len(self.weight), -1, -1)
        log_det = torch.linalg.slogdet(self.weight)[1].sum(1)[:, None]
        for layer in range(self.n_layers):
            h = h @ self.weight[:, layer].mT + self.bias[:, layer, None]
            h, log_derivative = leaky_relu(h, self.log_slope[:, layer, None], tau)
            log_det = log_det + log_derivative.sum(-1)
        return h @ self.weight[:, self.n_layers].mT + self.bias[:, self.n_layers, None], log_det

    def prior(self):
        diagonal = torch.diagonal(self.tril, dim1=-2, dim2=-1)
        tril = self.tril.tril() + torch.diag_embed(diagonal.abs() + 1e-4 - diagonal)
        components = MultivariateNormal(self.means, scale_tril=tril)
        return MixtureSameFamily(Categorical(logits=self.logits), components)

    def forward(self, x, tau):
        z, log_det = self.latents(x, tau)
        return self.prior().log_prob(z.transpose(0, 1)).T + log_det

    @torch.no_grad()
    def set_to_truth(self, restart, model, mean, scale):
        """Write the true inverse mixing and mixture into one restart (a check of the model)."""
        matrices = [torch.as_tensor(A) for A in model["matrices"]]
        kinks = [torch.zeros(len(mean))] + [torch.as_tensor(k) for k in model["kinks"][::-1]]
        # Layer l undoes mixing matrix L - l (and, from the second layer on,
        # the kink that followed it); the first also undoes the standardization.
        for layer, (A, kink) in enumerate(zip(matrices[::-1], kinks, strict=True)):
            inverse = torch.linalg.inv(A)
            weight, bias = inverse, inverse @ kink
            if layer == 0:
                weight = inverse * torch.as_tensor(scale)
                bias = inverse @ torch.as_tensor(mean)
            self.weight[restart, layer] = weight
            self.bias[restart, layer] = bias
        self.log_slope[restart] = -np.log(model["slope"])
        self.means[restart] = torch.as_tensor(model["means"])
        self.logits[restart] = torch.log(torch.as_tensor(model["weights"]))
        self.tril[restart] = torch.linalg.cholesky(torch.as_tensor(model["covariances"]))

    @torch.no_grad()
    def em_step(self, x, tau):
        """One EM step of each restart's mixture on its current latents."""
        z, _ = self.latents(x, tau)
        prior = self.prior()
        log_resp = prior.component_distribution.log_prob(z.transpose(0, 1)[:, :, None])
        resp = torch.softmax(log_resp + torch.log_softmax(self.logits, -1), -1)  # rows, R, K
        counts = resp.sum(0) + 1e-6
        means = torch.einsum("nrk,rnd->rkd", resp, z) / counts[..., None]
        centred = z[:, None] - means[:, :, None]
        covariances = torch.einsum("nrk,rkni,rknj->rkij", resp, centred, centred)
        covariances = covariances / counts[..., None, None] + 1e-4 * torch.eye(z.shape[-1])
        self.means.copy_(means)
        self.logits.copy_(counts.log())
        self.tril.copy_(torch.linalg.cholesky(covariances))


def run_seed(seed, args):
    X, Z, _, log_density, model = _draw_mixture_latents(
        2 * N_ROWS, 2, 2, N_CLUSTERS, args.n_layers, 3.0, args.slope, seed, True
    )
    mean, scale = X[:N_ROWS].mean(0), X[:N_ROWS].std(0)
    x = torch.as_tensor((X[:N_ROWS] - mean) / scale)
    fresh = torch.as_tensor((X[N_ROWS:] - mean) / scale)
    # Chain 0 is set to the true inverse mixing and mixture and trains with
    # the others: does the relaxed training keep the truth?
    chains = Chains(x, args.restarts + 1, args.n_layers - 1, torch.Generator().manual_seed(seed))
    chains.set_to_truth(0, model, mean, scale)
    with torch.no_grad():
        loglik_at_truth = chains(x, None)[0].mean().item()
        truth_latents = chains.latents(fresh, None)[0][0].numpy()
    start = time.process_time()
    optimizer = torch.optim.Adam(chains.parameters(), lr=args.lr)
    for step in range(args.steps):
        tau = args.tau_start * (args.tau_end / args.tau_start) ** (step / (args.steps - 1))
        loss = -chains(x, tau).mean(1)
        optimizer.zero_grad()
        # A restart whose likelihood is not finite gets no step rather than
        # stopping the others.
        torch.where(torch.isfinite(loss), loss, 0.0).sum().backward()
        optimizer.step()
        if args.em_every and step % args.em_every == 0:
            chains.em_step(x, tau)
    cpu_s = (time.process_time() - start) / (args.restarts + 1)
    with torch.no_grad():
        # The model set to the truth first: its likelihood must be the true
        # log-density, its R^2 1.
        loglik = np.append(loglik_at_truth, chains(x, None).mean(1).numpy())
        latents = np.concatenate([truth_latents[None], chains.latents(fresh, None)[0].numpy()])
    names = ["truth", "truth_trained"] + [f"restart {r}" for r in range(args.restarts)]
    raw_r2 = affine_r2_score(Z[N_ROWS:], fresh.numpy())
    true_loglik = log_density[:N_ROWS].mean() + np.log(scale).sum()
    for name, loglik_, latents_ in zip(names, loglik, latents, strict=True):
        row = {
            "seed": seed,
            "n_layers": args.n_layers,
            "slope": args.slope,
            "tau_start": args.tau_start,
            "em_every": args.em_every,
            "start": name,
            "raw_r2": raw_r2,
            "truth_loglik": true_loglik,
            "loglik": loglik_,
            "r2": affine_r2_score(Z[N_ROWS:], latents_) if np.isfinite(latents_).all() else np.nan,
            "cpu_s": 0.0 if name == "truth" else cpu_s,
        }
        print_row(row)
        if args.out:
            append_csv_row(row, args.out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--n-layers", type=int, default=4, help="mixing layers (default: 4)")
    parser.add_argument("--slope", type=float, default=0.1, help="leaky-ReLU slope (0.1)")
    parser.add_argument("--restarts", type=int, default=16, help="chains per seed (16)")
    parser.add_argument("--steps", type=int, default=2000, help="full-batch steps (2000)")
    parser.add_argument("--lr", type=float, default=3e-3, help="Adam's rate (3e-3)")
    parser.add_argument("--tau-start", type=float, default=0.3, help="first relaxation (0.3)")
    parser.add_argument("--tau-end", type=float, default=0.01, help="last relaxation (0.01)")
    parser.add_argument("--em-every", type=int, default=0, help="EM step every k steps (0: none)")
    parser.add_argument("--out", help="CSV file to write (default: none)")
    args = parser.parse_args()
    torch.set_default_dtype(torch.float64)
    for seed in args.seeds:
        run_seed(seed, args)


if __name__ == "__main__":
    main()
