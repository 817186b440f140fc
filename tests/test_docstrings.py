"""numpydoc's validation over every public object of the package."""

import importlib
import inspect

import pytest
from numpydoc.validate import validate

PUBLIC_MODULES = ["sklearn_ivae", "sklearn_ivae.datasets", "sklearn_ivae.metrics"]
OPTIONAL_MODULES = ["sklearn_ivae.model_selection", "sklearn_ivae.displays"]
EXTRA_OBJECTS = ["sklearn_ivae.gan.Discriminator"]

# Not required: a See Also section and an extended summary everywhere, and
# an Examples section on methods (classes and functions must have one);
# RT02: a single return value is named, as in scikit-learn.
IGNORED = {"SA01", "ES01", "RT02"}
IGNORED_FOR_METHODS = IGNORED | {"EX01"}


def _public_names():
    modules = [importlib.import_module(name) for name in PUBLIC_MODULES]
    for name in OPTIONAL_MODULES:
        try:
            modules.append(importlib.import_module(name))
        except ImportError:
            pass
    objects = [
        getattr(module, name)
        for module in modules
        for name in getattr(module, "__all__", dir(module))
        if not name.startswith("_")
    ]
    names = set(EXTRA_OBJECTS)
    for obj in objects:
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        if not obj.__module__.startswith("sklearn_ivae"):
            continue  # re-exported from elsewhere
        qualname = f"{obj.__module__}.{obj.__qualname__}"
        names.add(qualname)
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                function = getattr(member, "fget", member)
                if not attr.startswith("_") and callable(function):
                    names.add(f"{qualname}.{attr}")
            # Methods inherited from the package's base classes, too.
            for base in obj.__mro__[1:]:
                if base.__module__.startswith("sklearn_ivae"):
                    for attr, member in vars(base).items():
                        if not attr.startswith("_") and inspect.isfunction(member):
                            names.add(f"{qualname}.{attr}")
    return sorted(names)


@pytest.mark.parametrize("name", _public_names())
def test_docstring(name):
    is_method = name.count(".") > 2 or name.rsplit(".", 2)[-2][0].isupper()
    ignored = IGNORED_FOR_METHODS if is_method else IGNORED
    errors = [f"{code}: {message}" for code, message in validate(name)["errors"]]
    errors = [error for error in errors if error[:4] not in ignored]
    assert not errors, "\n".join(errors)
