"""Quick start: recover the sources of a nonlinear mixture with IVAE + FastICA.

Run it with ``python examples/quickstart.py`` (under a minute of one CPU core).
The same at the papers' size is the gallery example ``plot_ivae_full_size.py``.
"""

import warnings

from sklearn.decomposition import FastICA
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline

from sklearn_ivae import IVAE
from sklearn_ivae.datasets import make_nonlinear_ica
from sklearn_ivae.metrics import mean_corr_coef

warnings.filterwarnings("ignore", category=ConvergenceWarning)

# 5 sources whose variances change across 20 segments of 300 samples, mixed
# by a random 2-layer leaky-ReLU network; u is the segment index of each sample.
X, S, u = make_nonlinear_ica(
    n_sources=5, n_segments=20, n_samples_per_segment=300, n_layers=2, random_state=0
)

# verbose=1 shows each stage of the fit and a line per epoch.
model = make_pipeline(IVAE(n_components=5, random_state=0), FastICA(random_state=0))
S_hat = model.fit_transform(X, u)  # u travels as y

print(f"MCC, IVAE + FastICA: {mean_corr_coef(S, S_hat):.3f}")
print(f"MCC, FastICA alone:  {mean_corr_coef(S, FastICA(random_state=0).fit_transform(X)):.3f}")
