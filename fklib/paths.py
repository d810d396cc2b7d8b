"""Where things live: the project root, ``data/``, ``results/`` and the local data mirror.

Nothing here is read at import time: every function looks at the environment when called,
so tests and notebooks can point the package elsewhere with environment variables.

- ``FKLIB_ROOT``         -- the project root (default: the nearest folder above the current
  directory holding this project's ``pyproject.toml``, else the folder above the installed package).
- ``FKLIB_DATA_MIRROR``  -- the read-only local mirror (default: ``<root>/../shared/data``).
- ``FKLIB_RESULTS``      -- where tables, figures and executed notebooks go (default ``<root>/results``;
  the pipeline's tests point it at a temporary folder). ``splits.csv`` always stays in ``<root>/results``.
- ``FKLIB_CHECKPOINTS``  -- where training runs write (default ``<root>/checkpoints``).
- ``FKLIB_TRAINING_LEDGER`` -- (:data:`LEDGER_ENV`) the file a notebook's kernel appends its study models' events to
  (:func:`fklib.studies.cache.ledger_event`); set by the pipeline for each notebook, unset: no ledger.
"""

from __future__ import annotations

import os
from pathlib import Path

#: The environment variable naming the training ledger (see the module's docstring).
LEDGER_ENV = "FKLIB_TRAINING_LEDGER"


def _is_project_root(folder: Path) -> bool:
    toml = folder / "pyproject.toml"
    return toml.is_file() and (folder / "fklib").is_dir()


def project_root() -> Path:
    """The project root: ``$FKLIB_ROOT``, else the checkout that holds ``fklib/``."""
    env = os.environ.get("FKLIB_ROOT")
    if env:
        return Path(env).expanduser().resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if _is_project_root(folder):
            return folder
    return Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """``<root>/data``: the fetched copy of the data (git-ignored)."""
    return project_root() / "data"


def cache_dir() -> Path:
    """``<root>/data/cache``: decoded arrays, keyed by the manifest hash of what they hold."""
    return data_dir() / "cache"


def results_dir() -> Path:
    """``$FKLIB_RESULTS``, else ``<root>/results``: the small tables and figures the pipeline writes."""
    env = os.environ.get("FKLIB_RESULTS")
    if env:
        return Path(env).expanduser().resolve()
    return project_root() / "results"


def splits_file() -> Path:
    """``<root>/results/splits.csv``: the fixed identity splits (an input of every run, never redirected)."""
    return project_root() / "results" / "splits.csv"


def checkpoints_dir() -> Path:
    """``$FKLIB_CHECKPOINTS``, else ``<root>/checkpoints`` (git-ignored)."""
    env = os.environ.get("FKLIB_CHECKPOINTS")
    if env:
        return Path(env).expanduser().resolve()
    return project_root() / "checkpoints"


def mirror_dir() -> Path:
    """The local read-only mirror: ``$FKLIB_DATA_MIRROR``, else ``<root>/../shared/data``.

    Raises:
        FileNotFoundError: ``$FKLIB_DATA_MIRROR`` is set to something that is not a folder (a
            typo must not fall back silently to downloading); the default may be absent.
    """
    env = os.environ.get("FKLIB_DATA_MIRROR")
    if env:
        mirror = Path(env).expanduser().resolve()
        if not mirror.is_dir():
            raise FileNotFoundError(f"FKLIB_DATA_MIRROR={env}: mirror folder {mirror} does not exist "
                                    "(fix or unset the variable)")
        return mirror
    return (project_root().parent / "shared" / "data").resolve()


def models_dir() -> Path:
    """``<root>/models``: shipped weights (the default locator, the face parser) with their cards."""
    return project_root() / "models"


def default_locator() -> Path:
    """The shipped default locator: ``<root>/models/fakelocator.safetensors``."""
    return models_dir() / "fakelocator.safetensors"
