"""Evaluation metrics (paper §5.1) split into per-image statistics and reductions.

- :mod:`fklib.metrics.functional`     -- per-image map metrics: :func:`coss`, :func:`psnr`,
  :func:`ssim` (+ batched torch :func:`ssim_batch`), :func:`mae`, in-region forms via ``mask``.
- :mod:`fklib.metrics.pixel`          -- AUC / F1 / IoU against the GT binarised at ``tau``:
  per-image counts and exact AUC, pooled (micro) reductions, NaN-excluding mean.
- :mod:`fklib.metrics.per_image`      -- every map metric of an image or a batch
  (:func:`per_image_metrics`, :func:`batch_map_metrics`, :func:`region_map_metrics`) and the
  metric names of the tables (:data:`MAP_METRICS`, :data:`PAPER_METRICS`).
- :mod:`fklib.metrics.classification` -- ACC, balanced ACC, the decision ACC of the tables, the validation
  threshold choice.
- :mod:`fklib.metrics.bootstrap`      -- 95 % intervals with identities resampled (seeded).
- :mod:`fklib.metrics.reference`      -- reference predictors (zeros, mean maps, the face-layout prior).
"""

from fklib.metrics.bootstrap import BOOTSTRAP_SAMPLES, balanced_accuracy_interval, ratio_interval
from fklib.metrics.classification import (PEAK_QUANTILE, PROB_THRESHOLD, accuracy, balanced_accuracy,
                                         choose_decision, choose_threshold, set_balanced_weights, classifier_accuracy, decide,
                                         decision_accuracy, detection_rates, map_peak)
from fklib.metrics.functional import coss, coss_batch, mae, psnr, psnr_batch, ssim, ssim_batch, ssim_map
from fklib.metrics.per_image import (LEVEL_SUMS, MAP_METRICS, PAPER_METRICS, PIXEL_COUNTS, REGION_METRICS, batch_map_metrics,
                                     mean_metrics, per_image_metrics, region_map_metrics)
from fklib.metrics.pixel import (
    PixelStats,
    above,
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
from fklib.metrics.reference import MEAN_KINDS, REFERENCE_KINDS, LayoutPrior, ReferenceMaps, References, zero_map

__all__ = [
    "coss", "psnr", "ssim", "ssim_map", "ssim_batch", "coss_batch", "psnr_batch", "mae",
    "LEVEL_SUMS", "MAP_METRICS", "PAPER_METRICS", "PIXEL_COUNTS", "REGION_METRICS", "per_image_metrics", "batch_map_metrics",
    "region_map_metrics", "mean_metrics",
    "PixelStats", "above", "pixel_stats", "f1_from_stats", "iou_from_stats", "pixel_auc",
    "score_histograms", "auc_from_histograms", "pooled_auc", "pooled_f1_iou", "mean_excluding_nan",
    "accuracy", "balanced_accuracy", "classifier_accuracy", "decision_accuracy", "choose_threshold",
    "detection_rates", "decide", "PROB_THRESHOLD", "PEAK_QUANTILE", "map_peak",
    "choose_decision", "set_balanced_weights",
    "BOOTSTRAP_SAMPLES", "ratio_interval", "balanced_accuracy_interval",
    "REFERENCE_KINDS", "MEAN_KINDS", "zero_map", "ReferenceMaps", "LayoutPrior", "References",
]
