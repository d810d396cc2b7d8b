"""fklib: helper package of the FakeLocator paper companion.

Rooms (one concern each; see README.md):

- :mod:`fklib.data`   -- fetch (verified), readers per source layout, GT fakeness maps, splits, Dataset.
- :mod:`fklib.paths`  -- where the project keeps data, results and the local mirror.
"""

__version__ = "0.1.0"
