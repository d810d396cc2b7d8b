"""The engine: training (:func:`fit`) and the one scoring loop (:func:`score_items`) everything evaluates with.

- :mod:`fklib.engine.items`    -- the items of a config's split (:func:`training_items`).
- :mod:`fklib.engine.scoring`  -- :func:`predict`, :func:`decide`, :func:`score_items`: model (and reference
  predictors) over items -> one row per image.
- :mod:`fklib.engine.references` -- the reference predictors fitted on training items, per evaluation batch.
- :mod:`fklib.engine.evaluate` -- a loaded locator on a set (:func:`evaluate_locator`), per-group summaries.
- :mod:`fklib.engine.priors`   -- the property prior blend's maps and weight.
- :mod:`fklib.engine.run`      -- :func:`setup`: process, data, model, optimiser, resume of a run.
- :mod:`fklib.engine.train`    -- :func:`train_one_epoch`, :func:`validate`, :func:`fit`.
"""

from .evaluate import (evaluate_locator, evaluation_rule, fit_references, no_cl_threshold, side_by_side,
                       summarize, summary_means)
from .run import Run, setup
from .train import fit, train_one_epoch, validate
from .items import count_items, training_items
from .priors import choose_prior_alpha, property_prior_maps, validation_score
from .references import BatchReferences, fit_reference_maps
from .scoring import MODEL, batches, decide, forward, predict, score_items

__all__ = [
    "fit", "setup", "Run", "train_one_epoch", "validate", "training_items", "count_items",
    "score_items", "predict", "forward", "batches", "decide", "fit_reference_maps", "BatchReferences", "MODEL",
    "evaluate_locator", "fit_references", "no_cl_threshold", "evaluation_rule", "summarize", "summary_means",
    "side_by_side", "choose_prior_alpha", "property_prior_maps", "validation_score",
]
