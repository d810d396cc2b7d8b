"""The paper's experiments as functions of a profile: one module per notebook, and the modules they share.

| module | notebook | what |
|---|---|---|
| :mod:`~fklib.studies.profiles` | all | what a profile decides for the studies (one :class:`~fklib.studies.profiles.StudyProfile` each) |
| :mod:`~fklib.studies.common` | all | the profiles' models (universal, single-property), :func:`~fklib.studies.common.score_set`, :func:`~fklib.studies.common.load` |
| :mod:`~fklib.studies.cache` | all | :func:`~fklib.studies.cache.ensure_trained`: a finished run with the same config is reused |
| :mod:`~fklib.studies.data_prep` | 00 | the sets, splits and ground truth |
| :mod:`~fklib.studies.validation` | 01, experiments | a model's scores on every validation set (the recipe search, the learning curves) |
| :mod:`~fklib.studies.loss_comparison` | 02 | Table 2 |
| :mod:`~fklib.studies.universality` | 03 | Tables 3, 4 |
| :mod:`~fklib.studies.face_parsing` | 04 | Table 5, Figs. 6, 7 |
| :mod:`~fklib.studies.robustness` | 05 | Figs. 8-10 |
| :mod:`~fklib.studies.gallery` | 06 | Fig. 1 |
| :mod:`~fklib.studies.upsampling` | 07 | beyond the paper (§3.2); its generators and spectra: :mod:`~fklib.studies.upsampling_generators` |
| :mod:`~fklib.studies.card` | export | the shipped model's measured limits (with :mod:`~fklib.studies.published_figures`: faces cut from published figures) |
| :mod:`~fklib.studies.recipe` | 01, export | a recipe in words from its config, and the chain of runs a checkpoint was fine-tuned from |

Tables and figures are written by :mod:`fklib.report`; the studies return frames and arrays.
"""
