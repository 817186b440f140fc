"""Hyperparameter search on a dask.distributed cluster (joblib's dask backend).

Needs the ``distributed`` extra (``pip install -e ".[distributed]"``); skipped
without it. The cluster is local: two worker processes on this machine, which
is what a multi-machine cluster looks like to joblib and scikit-learn.
"""

import joblib
import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from sklearn_ivae import IVAE
from sklearn_ivae.datasets import make_nonlinear_ica

distributed = pytest.importorskip("distributed")


def _search(n_jobs):
    X, _, u = make_nonlinear_ica(
        n_sources=2, n_segments=4, n_samples_per_segment=50, n_layers=2, random_state=0
    )
    search = GridSearchCV(
        IVAE(hidden_layer_sizes=(16,), max_epochs=2, random_state=0),
        {"lr": [1e-3, 1e-2], "hidden_layer_sizes": [(8,), (16,)]},
        # Folds must share segments: a segment never seen in fit cannot be scored.
        cv=StratifiedKFold(n_splits=2, shuffle=True, random_state=0),
        n_jobs=n_jobs,
    )
    return search.fit(X, u), X


def test_grid_search_on_dask_cluster_matches_sequential():
    sequential, X = _search(n_jobs=1)

    # Worker processes, not threads: every fit seeds torch's process-wide
    # generator, so fits running in threads of one process would race for it.
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        # One torch thread per worker (the nanny already sets OMP_NUM_THREADS=1
        # by default; a user's dask config may not).
        client.run(torch.set_num_threads, 1)
        threads = client.run(torch.get_num_threads)
        assert set(threads.values()) == {1}
        workers = list(threads)
        with distributed.get_task_stream(client) as tasks, joblib.parallel_backend("dask"):
            on_cluster, _ = _search(n_jobs=-1)
    # The 4 candidates x 2 folds were fitted on the workers (in batches that
    # joblib sizes itself); only the refit of the best candidate runs here.
    assert tasks.data and {task["worker"] for task in tasks.data} <= set(workers)

    assert on_cluster.best_params_ == sequential.best_params_
    # Fits are bit-reproducible on CPU given random_state, whichever process runs them.
    np.testing.assert_array_equal(
        on_cluster.cv_results_["mean_test_score"], sequential.cv_results_["mean_test_score"]
    )
    np.testing.assert_array_equal(
        on_cluster.best_estimator_.transform(X), sequential.best_estimator_.transform(X)
    )
