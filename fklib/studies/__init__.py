"""The paper's experiments as functions of a profile: one module per notebook, one shared model cache.

| module | notebook | paper |
|---|---|---|
| :mod:`~fklib.studies.common` | all | the profiles' models (universal, single-property), :func:`~fklib.studies.common.evaluate` |
| :mod:`~fklib.studies.cache` | all | :func:`~fklib.studies.cache.ensure_trained`: a finished run with the same config is reused |
| :mod:`~fklib.studies.loss_comparison` | 02 | Table 2 |
| :mod:`~fklib.studies.universality` | 03 | Tables 3, 4 |
| :mod:`~fklib.studies.face_parsing` | 04 | Table 5, Figs. 6, 7 |
| :mod:`~fklib.studies.robustness` | 05 | Figs. 8-10 |
| :mod:`~fklib.studies.gallery` | 06 | Fig. 1 |
| :mod:`~fklib.studies.upsampling` | 07 | beyond the paper (§3.2) |

Tables and figures are written by :mod:`fklib.report`; the studies return frames and arrays.
"""
