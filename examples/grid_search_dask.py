"""Grid search over IVAE on a dask.distributed cluster.

Needs the ``distributed`` extra (``pip install -e ".[distributed]"``). Run it
with ``python examples/grid_search_dask.py`` (under a minute on two cores). It
starts a local cluster of two single-threaded worker processes; to use a cluster
of several machines, pass the scheduler's address instead:
``Client("tcp://scheduler-host:8786")``. See the user guide's "Scaling out" page.
"""

import joblib
from dask.distributed import Client, LocalCluster
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from sklearn_ivae import IVAE
from sklearn_ivae.datasets import make_nonlinear_ica


def main():
    X, S, u = make_nonlinear_ica(
        n_sources=3, n_segments=10, n_samples_per_segment=100, n_layers=2, random_state=0
    )
    search = GridSearchCV(
        IVAE(max_epochs=10, random_state=0),
        {"lr": [1e-3, 5e-3], "hidden_layer_sizes": [(32,), (64, 64)]},
        # Folds that share segments: a segment never seen in fit cannot be scored.
        cv=StratifiedKFold(n_splits=3, shuffle=True, random_state=0),
        n_jobs=-1,
    )
    # Worker processes with one thread each: each fit seeds torch's
    # process-wide generator, so fits must not share a process.
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True) as cluster,
        Client(cluster),
    ):
        with joblib.parallel_backend("dask"):
            search.fit(X, u)  # u travels as y; 4 candidates x 3 folds run on the workers

    print(f"Best parameters: {search.best_params_}")
    print(f"Best mean ELBO per sample: {search.best_score_:.3f}")


# The guard matters: dask starts its worker processes by re-importing this file.
if __name__ == "__main__":
    main()
