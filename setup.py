import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
VERSION = re.search(
    r'__version__ = "([^"]+)"', (HERE / "sklearn_ivae" / "__init__.py").read_text()
).group(1)

setup(
    name="sklearn-ivae",
    version=VERSION,
    description=(
        "Identifiable deep latent-variable models (iVAE and relatives) as scikit-learn transformers"
    ),
    long_description=(HERE / "README.rst").read_text(),
    long_description_content_type="text/x-rst",
    license="BSD-3-Clause",
    packages=find_packages(include=["sklearn_ivae", "sklearn_ivae.*"]),
    python_requires=">=3.10",
    # torch is not pinned here: install the build you need first (CPU or CUDA);
    # any release in this range works.
    install_requires=[
        "numpy>=1.23",
        "scipy>=1.9",
        "scikit-learn>=1.6,<1.10",
        "skorch>=1.0,<2",
        "torch>=2.1",
        "zuko>=1.6,<2",
    ],
    extras_require={
        # matplotlib: the displays' tests and doctests.
        "test": ["pytest>=7", "ruff>=0.5", "pandas>=1.5", "numpydoc>=1.6,<2", "matplotlib>=3.5"],
        # aeon ships the real datasets of two gallery examples in its wheel.
        "examples": ["matplotlib>=3.5", "aeon>=1.0,<2"],
        # Hyperparameter search on a dask.distributed cluster through joblib's
        # dask backend (docs/user_guide/scaling.rst). Ray is not an extra: it is
        # large; install it as ``pip install "ray[default]"`` where wanted.
        "distributed": ["dask[distributed]>=2024.1"],
        "docs": [
            "sphinx>=7,<10",
            "numpydoc>=1.6,<2",
            "sphinx-gallery>=0.15,<1",
            "pydata-sphinx-theme>=0.15,<1",
            "matplotlib>=3.5",
            "aeon>=1.0,<2",
        ],
    },
    classifiers=[
        "Intended Audience :: Science/Research",
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
