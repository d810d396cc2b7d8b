"""Colour maps and overlays in numpy only (no matplotlib): used by ``locate`` and by every figure.

- :func:`inferno`, :func:`map_colours` -- the colours of every fakeness map in the project: matplotlib's
  ``inferno`` (its 256 colours, stored here so that ``locate`` needs no matplotlib) under the square-root
  law :data:`MAP_GAMMA`, as the figures draw them (``fklib.report.figures.MAP_CMAP`` / ``MAP_GAMMA``).
- :func:`jet` -- values in [0, 1] to the jet colour map (piecewise linear).
- :func:`overlay` -- a fakeness map blended over an image (paper Fig. 1); :func:`tint` -- a map over a
  picture where it was computed (``locate``'s overlay, the photo demo).
- :data:`PARSING_PALETTE`, :func:`colorize_parsing` -- a colour per CelebAMask-HQ class.
"""

from __future__ import annotations

import numpy as np

#: A colour per CelebAMask-HQ class (0 background is black).
PARSING_PALETTE = np.array([
    [0, 0, 0], [204, 153, 128], [255, 140, 0], [120, 120, 255], [0, 200, 0], [0, 140, 0], [140, 70, 20],
    [100, 40, 10], [255, 200, 200], [230, 170, 170], [255, 0, 120], [220, 0, 0], [150, 0, 0], [90, 40, 160],
    [0, 160, 160], [255, 255, 0], [160, 160, 0], [255, 180, 90], [60, 60, 60]], dtype=np.uint8)


def colorize_parsing(parsing: np.ndarray) -> np.ndarray:
    """``HxW`` class indices -> ``HxWx3`` uint8 colours (:data:`PARSING_PALETTE`)."""
    return PARSING_PALETTE[np.clip(parsing, 0, len(PARSING_PALETTE) - 1)]


#: The square-root law of every map's colours: colour = (value / top) ** MAP_GAMMA, as the figures
#: (``fklib.report.figures.MAP_GAMMA``): a faint map still shows its structure; colour bars are ticked in values.
MAP_GAMMA = 0.5

#: matplotlib's ``inferno`` colour map, its 256 colours as RGB bytes (``matplotlib.colormaps["inferno"]``,
#: rounded to 8 bits; ``tests/test_locate.py`` compares them with matplotlib's).
_INFERNO_HEX = (
    "00000401000501010601010802010a02020c02020e03021004031204031405041706041907051b08051d09061f0a0722"
    "0b07240c08260d08290e092b10092d110a30120a32140b34150b37160b39180c3c190c3e1b0c411c0c431e0c451f0c48"
    "210c4a230c4c240c4f260c51280b53290b552b0b572d0b592f0a5b310a5c320a5e340a5f3609613809623909633b0964"
    "3d09653e0966400a67420a68440a68450a69470b6a490b6a4a0c6b4c0c6b4d0d6c4f0d6c510e6c520e6d540f6d550f6d"
    "57106e59106e5a116e5c126e5d126e5f136e61136e62146e64156e65156e67166e69166e6a176e6c186e6d186e6f196e"
    "71196e721a6e741a6e751b6e771c6d781c6d7a1d6d7c1d6d7d1e6d7f1e6c801f6c82206c84206b85216b87216b88226a"
    "8a226a8c23698d23698f24699025689225689326679526679727669827669a28659b29649d29649f2a63a02a63a22b62"
    "a32c61a52c60a62d60a82e5fa92e5eab2f5ead305dae305cb0315bb1325ab3325ab43359b63458b73557b93556ba3655"
    "bc3754bd3853bf3952c03a51c13a50c33b4fc43c4ec63d4dc73e4cc83f4bca404acb4149cc4248ce4347cf4446d04545"
    "d24644d34743d44842d54a41d74b3fd84c3ed94d3dda4e3cdb503bdd513ade5238df5337e05536e15635e25734e35933"
    "e45a31e55c30e65d2fe75e2ee8602de9612bea632aeb6429eb6628ec6726ed6925ee6a24ef6c23ef6e21f06f20f1711f"
    "f1731df2741cf3761bf37819f47918f57b17f57d15f67e14f68013f78212f78410f8850ff8870ef8890cf98b0bf98c0a"
    "f98e09fa9008fa9207fa9407fb9606fb9706fb9906fb9b06fb9d07fc9f07fca108fca309fca50afca60cfca80dfcaa0f"
    "fcac11fcae12fcb014fcb216fcb418fbb61afbb81dfbba1ffbbc21fbbe23fac026fac228fac42afac62df9c72ff9c932"
    "f9cb35f8cd37f8cf3af7d13df7d340f6d543f6d746f5d949f5db4cf4dd4ff4df53f4e156f3e35af3e55df2e661f2e865"
    "f2ea69f1ec6df1ed71f1ef75f1f179f2f27df2f482f3f586f3f68af4f88ef5f992f6fa96f8fb9af9fc9dfafda1fcffa4"
)
INFERNO = np.frombuffer(bytes.fromhex("".join(_INFERNO_HEX)), np.uint8).reshape(256, 3)


def inferno(x: np.ndarray) -> np.ndarray:
    """Values in [0, 1] -> ``...x3`` float RGB in [0, 1] of matplotlib's ``inferno`` (its 256 colours, looked up
    as matplotlib does: colour ``floor(x * 256)``, the last one for 1)."""
    idx = np.clip(np.floor(np.asarray(x, np.float64) * 256), 0, 255).astype(np.intp)
    return INFERNO[idx].astype(np.float32) / 255.0


def map_colours(x: np.ndarray) -> np.ndarray:
    """Values in [0, 1] (``value / top`` of a map) -> ``...x3`` RGB in [0, 1]: :func:`inferno` of
    ``x ** MAP_GAMMA``, the colours of every fakeness map and colour bar of the project."""
    return inferno(np.clip(np.asarray(x, np.float64), 0, 1) ** MAP_GAMMA)


def tint(rgb: np.ndarray, m: np.ndarray, vmax: float, alpha: float = 0.55, where: np.ndarray | None = None) -> np.ndarray:
    """A fakeness map over a picture, ``H x W x 3`` uint8: :func:`map_colours` of ``m / vmax`` blended over the
    picture with opacity ``alpha`` where the map was computed (``where``: ``H x W`` in [0, 1], e.g. the faces'
    crops; default everywhere), the picture untouched elsewhere.

    Args:
        rgb: ``H x W x 3`` uint8 picture.
        m: ``H x W`` map (fakeness in [0, 1]).
        vmax: the top of the colour scale (values above are drawn at the top colour).
        alpha: the map's opacity where it was computed.
        where: ``H x W`` weights in [0, 1] of the opacity (a fractional border where a region was shrunk).
    """
    if not vmax > 0:
        raise ValueError(f"tint: vmax must be > 0, got {vmax}")
    colour = map_colours(np.asarray(m, np.float32) / np.float32(vmax)) * np.float32(255.0)
    a = np.full(np.shape(m), np.float32(alpha)) if where is None else np.float32(alpha) * np.clip(
        np.asarray(where, np.float32), 0, 1)
    out = (1 - a[..., None]) * np.asarray(rgb, np.float32) + a[..., None] * colour
    return np.rint(out).clip(0, 255).astype(np.uint8)


def jet(m: np.ndarray) -> np.ndarray:
    """``HxW`` values in [0, 1] -> ``HxWx3`` float RGB of the jet colour map (piecewise linear, numpy only)."""
    x = np.clip(np.asarray(m, np.float32), 0, 1)[..., None]
    centres = np.array([3.0, 2.0, 1.0], np.float32)  # red, green, blue peaks at x = 3/4, 1/2, 1/4
    return np.clip(1.5 - np.abs(4.0 * x - centres), 0, 1)


def overlay(fake: np.ndarray, pred: np.ndarray, alpha: float = 0.5, vmax: float = 1.0, colours=None) -> np.ndarray:
    """``HxWx3`` float image in [0, 1]: the map (``colours`` of ``pred / vmax``, clipped at ``vmax``; default
    :func:`jet`, where ``vmax`` and above is red) blended over the uint8 image (``python -m fklib locate``'s
    overlay; the figures pass their colour bar's colours, :func:`fklib.report.figures.map_colours`)."""
    if not vmax > 0:
        raise ValueError(f"overlay: vmax must be > 0, got {vmax}")
    scaled = np.clip(np.asarray(pred, np.float32) / np.float32(vmax), 0.0, 1.0)
    return ((1 - alpha) * np.asarray(fake, np.float32) / 255.0 + alpha * (colours or jet)(scaled)).clip(0, 1)
