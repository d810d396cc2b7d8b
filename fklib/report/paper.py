"""The paper's numbers, typed once: Tables 2-5 as tidy long-format frames, its settings, its names.

Source: ``../shared/paper/fakelocator.md`` (Huang et al., "FakeLocator: Robust Localization of
GAN-Based Face Manipulations"). Every value below is copied from one cell of one table there;
``tests/test_paper.py`` parses that file independently and checks each value against its cell.

- **Table 1** "Properties of GANs" -> :data:`PAPER_PROPERTIES` (no numbers).
- **Table 2** "Loss Function Comparison" -> ``paper_table(2)``: STGAN, property *Bald*; rows
  Baseline [Stehouwer'19] (DFFD, its binary maps enlarged to 224x224), L1 Loss (no cl),
  L1 Loss, L2 Loss, Dice Loss, Focal Loss; columns ACC, COSS, PSNR, SSIM. "L1 Loss (no cl)"
  has no classifier, so the paper prints ``\\`` for its ACC: that cell is absent here.
- **Table 3** "Performance of The Model" -> ``paper_table(3)``: the universal model (trained on
  2,000 fakes of every GAN/property category, RQ3) tested on each GAN/property.
- **Table 4** "Universal Test" -> ``paper_table(4)``: cross-GAN / cross-property tests. Two
  models: trained on STGAN (Bald), tested on STGAN Bald (the paper's gray reference column)
  and AttGAN Bald / Black hair / Eyeglasses; trained on STGAN (Smile), tested on STGAN Smile
  (gray) and StyleGAN Smile / Age / Gender (training sources from the text of RQ2).
- **Table 5** "Comparison of the model with and without face parsing" -> ``paper_table(5)``:
  both models trained on STGAN (Blond hair), tested on STGAN Black hair / Brown hair / Smile;
  COSS, PSNR and SSIM are *in-region* (only the pixels of the modified property's region, RQ4).
- Figures 8 and 10 (disorganization, degradations) are plots only: the paper gives no numbers
  for them, so nothing is typed for them.

Units: ACC, COSS and SSIM are fractions in ``[0, 1]`` exactly as the paper prints them (its ACC
is already a fraction, not a percentage: no conversion); PSNR is in dB. Metric names are
``acc``, ``coss``, ``psnr``, ``ssim``.

Names: GANs lower-case (:data:`GAN_NAMES`), properties in the CelebA / dataset spelling
(:data:`PROPERTY_NAMES`): the paper's *Smile* is ``Mouth_Slightly_Open`` (STGAN's and AttGAN's
attribute behind it), *Gender* is ``Male``, *Age* is ``Young``, *Black hair* is ``Black_Hair``;
full-face synthesis keeps ``Entire``. The paper's own label of each cell is kept in
``paper_label`` (the header path, joined with ``" / "``: ``"StyleGAN / Smile"``).
"""

from __future__ import annotations

import math

import pandas as pd

#: Paper GAN label -> our lower-case name.
GAN_NAMES: dict[str, str] = {
    "STGAN": "stgan", "AttGAN": "attgan", "StarGAN": "stargan", "IcGAN": "icgan",
    "StyleGAN": "stylegan", "PGGAN": "pggan", "StyleGAN2": "stylegan2",
}

#: Paper property label -> our (CelebA / dataset) spelling. Both *Gender* and *Male* are ``Male``.
PROPERTY_NAMES: dict[str, str] = {
    "Bald": "Bald", "Bangs": "Bangs", "Black hair": "Black_Hair", "Blond hair": "Blond_Hair",
    "Brown hair": "Brown_Hair", "Eyeglasses": "Eyeglasses", "Male": "Male", "Gender": "Male",
    "Mustache": "Mustache", "Smile": "Mouth_Slightly_Open", "Age": "Young", "Entire": "Entire",
}

#: Table 1 "Properties of GANs": GAN -> the paper's property labels (real-image database in
#: :data:`PAPER_SOURCES`). PGGAN, StyleGAN and StyleGAN2 also synthesise ``Entire`` faces.
PAPER_PROPERTIES: dict[str, tuple[str, ...]] = {
    "stgan": ("Bald", "Bangs", "Black hair", "Blond hair", "Smile", "Brown hair", "Eyeglasses", "Male", "Mustache"),
    "attgan": ("Bald", "Bangs", "Black hair", "Blond hair", "Brown hair", "Eyeglasses", "Male", "Smile"),
    "stargan": ("Black hair", "Blond hair", "Brown hair", "Gender", "Age"),
    "icgan": ("Bald", "Bangs", "Eyeglasses", "Smile"),
    "stylegan": ("Smile", "Age", "Gender", "Entire"),
    "pggan": ("Entire",),
    "stylegan2": ("Entire",),
}
#: Table 1: the real-image database each GAN's fakes come from.
PAPER_SOURCES: dict[str, str] = {
    "stgan": "CelebA", "attgan": "CelebA", "stargan": "CelebA", "icgan": "CelebA",
    "stylegan": "FFHQ", "pggan": "FFHQ", "stylegan2": "FFHQ",
}

#: The paper's setting (§5.1 "Settings", "Training and Testing Dataset", "Network"; RQ3; RQ5).
#: "we train for 10 iterations" is read as 10 epochs. Data sizes are per facial property.
PAPER_SETTINGS: dict = {
    "size": 224,                          # inputs resized to 224x224 (Deeplabv3-ResNet101's input size)
    "model": "deeplabv3_resnet101",
    "backbone": "DeepLabV3-ResNet101",
    "pretrained": "COCO train2017 subset, the 20 Pascal VOC categories (torchvision)",
    "output": "sigmoid",
    "epochs": 10,
    "batch_size": 8,
    "optimizer": "Adam",
    "lr": 1e-4,
    "betas": (0.99, 0.999),
    "weight_decay": 1e-7,
    "default_loss": "l1",                 # chosen after Table 2
    "gpu": "NVIDIA RTX 2080 Ti (11 GB)",
    "main_gan": "stgan",
    # per property: 5,000 persons' real images + fakes of 5,000 other persons; test 1,000 + 1,000
    "train_fakes_per_property": 5000,
    "train_reals_per_property": 5000,
    "test_fakes": 1000,
    "test_reals": 1000,
    # the universal model of Table 3 (RQ3): 2,000 fakes per (GAN, property) category
    "universal_fakes_per_category": 2000,
    "universal_train_fakes": 64000,
    "universal_train_reals": 64000,
    # RQ5: degradations applied to 1,000 fakes; the disorganization test cuts images in 4 pieces
    "degradation_test_fakes": 1000,
    # Table 2 baseline (DFFD, Stehouwer et al.): 19x19 attention map of a 299 px input, enlarged to 224
    "baseline_map_size": 19,
    "baseline_input_size": 299,
}

#: Table captions as printed.
CAPTIONS: dict[int, str] = {
    1: "Properties of GANs",
    2: "Loss Function Comparison",
    3: "Performance of The Model",
    4: "Universal Test",
    5: "Comparison of the model with and without face parsing",
}

#: Key columns of each table (besides ``metric``); ``with_paper`` joins on a subset of these.
TABLE_KEYS: dict[int, tuple[str, ...]] = {
    2: ("gan", "property", "method"),
    3: ("gan", "property"),
    4: ("train_gan", "train_property", "gan", "property"),
    5: ("train_gan", "train_property", "gan", "property", "method"),
}

METRICS = ("acc", "coss", "psnr", "ssim")
_NA = None  # a cell the paper leaves empty ("\")

# --------------------------------------------------------------------------------------------
# Table 2: Loss Function Comparison (STGAN, Bald). One row per method, as printed.
#   method          paper label                 ACC     COSS    PSNR   SSIM
_TABLE2 = (
    ("dffd_baseline", "Baseline [Stehouwer'19]", 1.0,   0.5008, 5.17,  0.1591),
    ("l1_no_cl",      "L1 Loss (no cl)",         _NA,   0.9271, 22.54, 0.7533),
    ("l1",            "L1 Loss",                 0.994, 0.8887, 22.83, 0.7823),
    ("l2",            "L2 Loss",                 1.0,   0.9228, 23.09, 0.7497),
    ("dice",          "Dice Loss",               0.990, 0.7633, 12.89, 0.3585),
    ("focal",         "Focal Loss",              0.984, 0.3988, 20.79, 0.3301),
)
_TABLE2_METRICS = ("acc", "coss", "psnr", "ssim")

# --------------------------------------------------------------------------------------------
# Table 3: Performance of The Model (the universal model). Columns (GAN / property) as printed;
# one tuple per metric row, in the paper's row order ACC, PSNR, SSIM, COSS.
_TABLE3_COLUMNS = (
    ("STGAN", "Smile"), ("STGAN", "Bangs"), ("STGAN", "Bald"), ("STGAN", "Mustache"),
    ("STGAN", "Eyeglasses"), ("STGAN", "Black hair"),
    ("StyleGAN", "Age"), ("StyleGAN", "Gender"), ("StyleGAN", "Smile"), ("StyleGAN", "Entire"),
    ("StarGAN", "Age"), ("StarGAN", "Gender"), ("StarGAN", "Black hair"),
    ("AttGAN", "Bald"), ("AttGAN", "Smile"), ("AttGAN", "Eyeglasses"),
    ("IcGAN", "Bald"), ("PGGAN", "Entire"), ("StyleGAN2", "Entire"),
)
_TABLE3 = {
    #        STGAN                                                 StyleGAN                            StarGAN                   AttGAN                    IcGAN   PGGAN   StyleGAN2
    "acc":  (0.9985, 0.9985, 0.9985, 0.9935, 0.997,  0.9985, 0.9985, 0.999,  0.999,  0.921,  0.999,  0.999,  0.999,  0.9985, 0.9985, 0.9985, 0.9995, 0.9775, 0.855),
    "psnr": (34.72,  33.07,  27.51,  36.59,  33.23,  31.05,  20.71,  18.92,  22.68,  55.08,  26.38,  26.71,  25.25,  25.31,  29.49,  28.19,  17.57,  48.70,  72.00),
    "ssim": (0.9086, 0.9033, 0.8572, 0.8829, 0.8663, 0.9029, 0.6159, 0.5726, 0.6625, 0.8268, 0.7929, 0.7952, 0.7911, 0.7839, 0.8736, 0.8207, 0.6002, 0.8945, 0.9262),
    "coss": (0.8634, 0.8850, 0.9014, 0.9152, 0.9093, 0.8817, 0.7479, 0.7580, 0.7365, 0.9174, 0.8494, 0.8416, 0.8780, 0.8883, 0.8277, 0.8313, 0.8352, 0.9972, 0.9678),
}

# --------------------------------------------------------------------------------------------
# Table 4: Universal Test. Columns (test GAN / test property) as printed, with the training
# source of each column (from the text of RQ2: the first four columns are the model trained on
# STGAN Bald, the last four the model trained on STGAN Smile; the first of each is gray).
_TABLE4_COLUMNS = (
    # (train GAN, train property), (test GAN, test property)
    (("STGAN", "Bald"), ("STGAN", "Bald")),
    (("STGAN", "Bald"), ("AttGAN", "Bald")),
    (("STGAN", "Bald"), ("AttGAN", "Black hair")),
    (("STGAN", "Bald"), ("AttGAN", "Eyeglasses")),
    (("STGAN", "Smile"), ("STGAN", "Smile")),
    (("STGAN", "Smile"), ("StyleGAN", "Smile")),
    (("STGAN", "Smile"), ("StyleGAN", "Age")),
    (("STGAN", "Smile"), ("StyleGAN", "Gender")),
)
_TABLE4 = {
    #        STGAN   AttGAN                   STGAN   StyleGAN
    "acc":  (0.994,  0.973,  0.513,  0.519,  1.0,    0.588,  0.593,  0.588),
    "psnr": (22.83,  21.46,  22.84,  23.52,  35.49,  20.85,  18.59,  16.50),
    "ssim": (0.7823, 0.6688, 0.3966, 0.4168, 0.9218, 0.5571, 0.4958, 0.4301),
    "coss": (0.8887, 0.8141, 0.6932, 0.6950, 0.8844, 0.6176, 0.3141, 0.6470),
}

# --------------------------------------------------------------------------------------------
# Table 5: with / without face parsing (FP). Both models trained on STGAN Blond hair, tested on
# STGAN; COSS, PSNR, SSIM in-region. Columns (test property / setting) as printed.
_TABLE5_TRAIN = ("STGAN", "Blond hair")
_TABLE5_METHODS = {"no FP": "no_fp", "with FP": "with_fp"}
_TABLE5_COLUMNS = (
    ("Black hair", "no FP"), ("Black hair", "with FP"),
    ("Brown hair", "no FP"), ("Brown hair", "with FP"),
    ("Smile", "no FP"), ("Smile", "with FP"),
)
_TABLE5 = {
    #        Black hair        Brown hair        Smile
    "acc":  (0.237,  0.67,    0.588,  0.859,    0.448,  0.752),
    "psnr": (28.270, 25.296,  30.611, 21.926,   41.836, 40.723),
    "ssim": (0.783,  0.825,   0.854,  0.802,    0.989,  0.990),
    "coss": (0.855,  0.817,   0.876,  0.863,    0.803,  0.808),
}


def _rows_table2() -> list[dict]:
    rows = []
    for method, label, *values in _TABLE2:
        for metric, value in zip(_TABLE2_METRICS, values):
            if value is _NA:
                continue
            rows.append({"gan": "stgan", "property": "Bald", "method": method,
                         "metric": metric, "value": float(value), "paper_label": label})
    return rows


def _rows_table3() -> list[dict]:
    rows = []
    for metric, values in _TABLE3.items():
        for (g, p), value in zip(_TABLE3_COLUMNS, values, strict=True):
            rows.append({"gan": GAN_NAMES[g], "property": PROPERTY_NAMES[p], "metric": metric,
                         "value": float(value), "paper_label": f"{g} / {p}"})
    return rows


def _rows_table4() -> list[dict]:
    rows = []
    for metric, values in _TABLE4.items():
        for ((tg, tp), (g, p)), value in zip(_TABLE4_COLUMNS, values, strict=True):
            rows.append({"train_gan": GAN_NAMES[tg], "train_property": PROPERTY_NAMES[tp],
                         "gan": GAN_NAMES[g], "property": PROPERTY_NAMES[p], "metric": metric,
                         "value": float(value), "paper_label": f"{g} / {p}"})
    return rows


def _rows_table5() -> list[dict]:
    rows = []
    tg, tp = _TABLE5_TRAIN
    for metric, values in _TABLE5.items():
        for (p, setting), value in zip(_TABLE5_COLUMNS, values, strict=True):
            rows.append({"train_gan": GAN_NAMES[tg], "train_property": PROPERTY_NAMES[tp], "gan": "stgan",
                         "property": PROPERTY_NAMES[p], "method": _TABLE5_METHODS[setting], "metric": metric,
                         "value": float(value), "paper_label": f"{p} / {setting}"})
    return rows


_BUILDERS = {2: _rows_table2, 3: _rows_table3, 4: _rows_table4, 5: _rows_table5}
TABLES = tuple(_BUILDERS)


def paper_table(n: int) -> pd.DataFrame:
    """The paper's Table ``n`` (2-5) in long format: one row per printed number.

    Columns: ``table``, the key columns of :data:`TABLE_KEYS` ``[n]``, ``metric``
    (``acc``/``coss``/``psnr``/``ssim``), ``value`` (float; ACC/COSS/SSIM fractions, PSNR in dB)
    and ``paper_label`` (the paper's header of the cell). A fresh frame each call.

    Raises:
        ValueError: ``n`` is not a table with numbers (1 has none; the paper has 5).
    """
    if n not in _BUILDERS:
        raise ValueError(f"paper_table: the paper has numeric tables {TABLES}, not {n!r}")
    df = pd.DataFrame(_BUILDERS[n]())
    df.insert(0, "table", n)
    return df[["table", *TABLE_KEYS[n], "metric", "value", "paper_label"]]


def paper_tables() -> pd.DataFrame:
    """All numeric tables stacked (key columns a table lacks are NaN)."""
    return pd.concat([paper_table(n) for n in TABLES], ignore_index=True)


def paper_value(table: int, metric: str, **keys: str) -> float:
    """One cell, e.g. ``paper_value(3, "psnr", gan="stylegan", property="Mouth_Slightly_Open")``.

    Returns NaN when the paper has no such cell; raises ``ValueError`` when the keys match several.
    """
    df = paper_table(table)
    unknown = set(keys) - set(TABLE_KEYS[table])
    if unknown:
        raise ValueError(f"paper_value: table {table} has keys {TABLE_KEYS[table]}, not {sorted(unknown)}")
    sel = df["metric"] == metric
    for k, v in keys.items():
        sel &= df[k] == v
    hit = df[sel]
    if len(hit) > 1:
        raise ValueError(f"paper_value: {len(hit)} cells of table {table} match {keys}; give more keys")
    return float(hit["value"].iloc[0]) if len(hit) else math.nan
