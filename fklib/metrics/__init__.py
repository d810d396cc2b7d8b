"""Evaluation metrics (paper §5.1) split into per-image statistics and reductions.

- :mod:`fklib.metrics.functional`     -- per-image map metrics: :func:`coss`, :func:`psnr`,
  :func:`ssim` (+ batched torch :func:`ssim_batch`), :func:`mae`, in-region forms via ``mask``,
  and :func:`per_image_metrics`.
- :mod:`fklib.metrics.pixel`          -- AUC / F1 / IoU against the GT binarised at ``tau``:
  per-image counts and exact AUC, pooled (micro) reductions, NaN-excluding mean.
- :mod:`fklib.metrics.classification` -- ACC and the validation threshold choice.
- :mod:`fklib.metrics.reference`      -- input-blind reference predictors (zeros, mean maps).
"""

from fklib.metrics.classification import accuracy, choose_threshold, classifier_accuracy
from fklib.metrics.functional import (coss, coss_batch, mae, per_image_metrics, psnr, psnr_batch, ssim, ssim_batch,
                                      ssim_map)
from fklib.metrics.pixel import (
    PixelStats,
    auc_from_histograms,
    f1_from_stats,
    iou_from_stats,
    mean_excluding_nan,
    pixel_auc,
    pixel_stats,
    pooled_auc,
    pooled_f1_iou,
    score_histograms,
)
from fklib.metrics.reference import KINDS, ReferenceMaps, zero_map

__all__ = [
    "coss", "psnr", "ssim", "ssim_map", "ssim_batch", "coss_batch", "psnr_batch", "mae", "per_image_metrics",
    "PixelStats", "pixel_stats", "f1_from_stats", "iou_from_stats", "pixel_auc",
    "score_histograms", "auc_from_histograms", "pooled_auc", "pooled_f1_iou", "mean_excluding_nan",
    "accuracy", "classifier_accuracy", "choose_threshold",
    "KINDS", "zero_map", "ReferenceMaps",
]
