"""
=============================================
IVAE at the papers' size
=============================================

The quick start at the size of the iVAE paper's experiments: 5 Gaussian
sources whose variances change across 40 segments of 1,000 samples, mixed by
a random 2-layer leaky-ReLU network. :class:`~sklearn_ivae.IVAE` with its
defaults, then :class:`~sklearn.decomposition.FastICA` for the remaining
linear indeterminacy; FastICA alone, which assumes a linear mixing, is the
baseline. Each recovered source is plotted against the true source it
matches. The fit takes a few minutes of one CPU core.
"""

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.decomposition import FastICA
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline

from sklearn_ivae import IVAE
from sklearn_ivae.datasets import make_nonlinear_ica
from sklearn_ivae.metrics import mean_corr_coef

warnings.filterwarnings("ignore", category=ConvergenceWarning)

X, S, u = make_nonlinear_ica(n_sources=5, n_segments=40, n_layers=2, random_state=0)
model = make_pipeline(IVAE(n_components=5, random_state=0), FastICA(random_state=0))
S_hat = model.fit_transform(X, u)
S_ica = FastICA(random_state=0).fit_transform(X)
print(f"MCC, IVAE + FastICA: {mean_corr_coef(S, S_hat):.3f}")
print(f"MCC, FastICA alone:  {mean_corr_coef(S, S_ica):.3f}")

# %%
# Each true source against the recovered source it matches best (the
# sources are identifiable up to permutation and scaling).
corr = np.corrcoef(S.T, S_hat.T)[:5, 5:]
rows, cols = linear_sum_assignment(-np.abs(corr))
fig, axes = plt.subplots(1, 5, figsize=(15, 3), constrained_layout=True)
subset = np.random.default_rng(0).choice(len(S), 2000, replace=False)
for ax, i, j in zip(axes, rows, cols, strict=True):
    ax.scatter(S[subset, i], S_hat[subset, j], s=2, alpha=0.4)
    ax.set(title=f"source {i}: |r| = {abs(corr[i, j]):.2f}", xlabel="true", ylabel="recovered")
plt.show()
