"""Property -> face region: which parsed classes an edit of each property touches (paper §4.4).

Face parsing uses the 19 CelebAMask-HQ classes (:data:`CLASSES`). :data:`PROPERTY_REGIONS` is
the one table of property -> classes; two properties need geometry on top of classes:

- ``Mustache``: the upper lip plus the band of skin between the nose and the mouth, within the
  horizontal extent of the mouth and lips (widened by a quarter of their width on each side).
- ``No_Beard``: the lips and mouth plus the skin below the bottom of the nose (the beard area).

Documented choices for global attributes: ``Male`` and ``Young`` touch the whole face and the
hair; ``Pale_Skin`` the skin, ears and neck. ``Entire`` and ``Reconstruction`` (the GAN redrew
everything) and ``Real`` (nothing was edited: no region to emphasise) give the whole image.
"""

from __future__ import annotations

import numpy as np

from ..data.readers import CELEBAMASK_CLASSES as CLASSES  # the 19 class names, by label index
_I = {name: i for i, name in enumerate(CLASSES)}

FACE = ("skin", "nose", "l_eye", "r_eye", "l_brow", "r_brow", "l_ear", "r_ear", "mouth", "u_lip", "l_lip")
EVERYTHING = None   # marker: the whole image

#: property -> parsed classes whose union is the edited region (``None``: the whole image).
PROPERTY_REGIONS: dict[str, tuple[str, ...] | None] = {
    "Bald": ("hair",),
    "Bangs": ("hair",),
    "Black_Hair": ("hair",),
    "Blond_Hair": ("hair",),
    "Brown_Hair": ("hair",),
    "Bushy_Eyebrows": ("l_brow", "r_brow"),
    "Eyeglasses": ("eyeglasses", "l_eye", "r_eye", "l_brow", "r_brow"),
    "Male": (*FACE, "hair"),
    "Mouth_Slightly_Open": ("mouth", "u_lip", "l_lip"),
    "Mustache": ("u_lip",),                  # + the nose-mouth band (see region_mask)
    "No_Beard": ("mouth", "u_lip", "l_lip"),  # + the skin below the nose (see region_mask)
    "Pale_Skin": ("skin", "l_ear", "r_ear", "neck"),
    "Young": (*FACE, "hair"),
    "Entire": EVERYTHING,
    "Reconstruction": EVERYTHING,
    "Real": EVERYTHING,
}


def _rows_cols(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.nonzero(mask)


def region_mask(parsing: np.ndarray, prop: str) -> np.ndarray:
    """Boolean ``HxW`` region of ``prop`` in a class-index parsing map (see the module doc).

    Raises:
        KeyError: ``prop`` is not in :data:`PROPERTY_REGIONS`.
        ValueError: ``parsing`` is not a 2-D class-index map.
    """
    parsing = np.asarray(parsing)
    if parsing.ndim != 2:
        raise ValueError(f"region_mask: expected an HxW class-index map, got shape {parsing.shape}")
    if prop not in PROPERTY_REGIONS:
        raise KeyError(f"no region known for property {prop!r}; known: {sorted(PROPERTY_REGIONS)}")
    classes = PROPERTY_REGIONS[prop]
    if classes is EVERYTHING:
        return np.ones(parsing.shape, dtype=bool)
    mask = np.isin(parsing, [_I[c] for c in classes])
    nose_rows, _ = _rows_cols(parsing == _I["nose"])
    skin = parsing == _I["skin"]
    if prop == "Mustache":
        lips = np.isin(parsing, [_I["mouth"], _I["u_lip"], _I["l_lip"]])
        lip_rows, lip_cols = _rows_cols(lips)
        if nose_rows.size and lip_rows.size:
            top, bottom = nose_rows.max(), lip_rows.min()
            pad = (lip_cols.max() - lip_cols.min()) // 4
            band = np.zeros_like(mask)
            band[top:bottom + 1, max(lip_cols.min() - pad, 0):lip_cols.max() + pad + 1] = True
            mask |= band & skin
    elif prop == "No_Beard" and nose_rows.size:
        below = np.zeros_like(mask)
        below[nose_rows.max():] = True
        mask |= below & skin
    return mask
