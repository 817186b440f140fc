"""Sphinx configuration of the sklearn-ivae documentation.

Build from the repository root with::

    OMP_NUM_THREADS=1 python -m sphinx -b html docs docs/_build/html

The gallery examples in ``examples/`` run during the build (a few minutes on
one CPU thread). Intersphinx links to scikit-learn, NumPy and PyTorch need the
network: set ``SKLEARN_IVAE_DOCS_INTERSPHINX=1`` to enable them.
"""

import os
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sklearn_ivae  # noqa: E402

project = "sklearn-ivae"
author = "sklearn-ivae developers"
copyright = "sklearn-ivae developers, BSD-3-Clause"
version = release = sklearn_ivae.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "auto_examples/*.ipynb"]
default_role = "literal"

# -- autodoc / autosummary / numpydoc ----------------------------------------
autosummary_generate = True
# Document our methods, including those inherited from the package's base
# class, but not scikit-learn's own (get_params, set_output, ...).
autodoc_default_options = {
    "members": True,
    "inherited-members": (
        "TransformerMixin, BaseEstimator, ClassNamePrefixFeaturesOutMixin, _SetOutputMixin, "
        "_MetadataRequester, ReprHTMLMixin, _HTMLDocumentationLinkMixin, object"
    ),
    "exclude-members": (
        "__init__, set_inverse_transform_request, set_fit_request, set_score_request, "
        "set_partial_fit_request"
    ),
}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True

# -- intersphinx: off by default (the build must not need the network) --------
if os.environ.get("SKLEARN_IVAE_DOCS_INTERSPHINX") == "1":
    extensions.append("sphinx.ext.intersphinx")
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable", None),
        "sklearn": ("https://scikit-learn.org/stable", None),
        "torch": ("https://docs.pytorch.org/docs/stable", None),
        "skorch": ("https://skorch.readthedocs.io/en/stable", None),
    }
    intersphinx_timeout = 10

# -- sphinx-gallery -------------------------------------------------------------
os.environ.setdefault("OMP_NUM_THREADS", "1")
warnings.filterwarnings("ignore", category=UserWarning, message="Matplotlib is currently using agg")

sphinx_gallery_conf = {
    "examples_dirs": [str(ROOT / "examples")],
    "gallery_dirs": ["auto_examples"],
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"quickstart\.py|grid_search_dask\.py|__init__\.py",
    "within_subsection_order": "FileNameSortKey",
    "backreferences_dir": "gen_modules/backreferences",
    "doc_module": ("sklearn_ivae",),
    "reference_url": {"sklearn_ivae": None},
    "remove_config_comments": True,
    "download_all_examples": False,
    "show_memory": False,
    "plot_gallery": "True",
}

# -- HTML -----------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"sklearn-ivae {release}"
html_theme_options = {
    "navigation_depth": 2,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_show_sourcelink = False
