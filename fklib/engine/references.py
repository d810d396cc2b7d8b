"""Fitting the reference predictors of a table (:class:`fklib.metrics.References`) on training items,
and predicting them for a batch of evaluation images (the layout prior parses each image).

Both parse through :class:`fklib.parsing.ParseCache`: an image (as the model sees it) already parsed by
this or an earlier process (another fit, another table) is read back, bit for bit, instead of parsed again."""

from __future__ import annotations

import numpy as np

from ..convert import tensor_to_image
from ..data import FakeMapDataset
from ..metrics import LayoutPrior, ReferenceMaps, References
from ..parsing import CLASSES, ParseCache, load_parser


def fit_reference_maps(items, size: int, layout: bool = True, parser=None) -> References:
    """The reference predictors of ``items``' fakes at ``size`` (the Dataset's resize): the mean maps and,
    with ``layout``, the face-layout prior (our face parser's parsing of each training fake as the model
    sees it). ``parser`` defaults to :func:`fklib.parsing.load_parser` (the shipped weights)."""
    items = list(items)
    ds = FakeMapDataset(items, size=size)
    labels = np.array([it.label for it in items])
    props = [it.property for it in items]
    maps, images = [], []
    for i in range(len(ds)):
        sample = ds[i]
        maps.append(sample["gt_map"][0].numpy())
        if layout and labels[i] == 1:
            images.append(tensor_to_image(sample["image"]))
    maps = np.stack(maps)
    means = ReferenceMaps.fit(maps, labels, props)
    if not layout:
        return References(means)
    fake = np.flatnonzero(labels == 1)
    parsings = ParseCache(parser or load_parser())(np.stack(images))
    prior = LayoutPrior.fit(maps[fake], parsings, labels[fake], [props[i] for i in fake], num_classes=len(CLASSES))
    return References(means, prior)


class BatchReferences:
    """The reference maps of each image of evaluation batches (:func:`fklib.engine.scoring.score_items`).

    Parses the batch's images (as the model sees them) only when ``layout_prior`` is among the kinds, through
    :class:`fklib.parsing.ParseCache` (an image parsed before is read back).
    """

    def __init__(self, references: References, kinds=None, parser=None) -> None:
        self.references = references
        self.kinds = tuple(kinds) if kinds is not None else references.kinds
        unknown = [k for k in self.kinds if k not in references.kinds]
        if unknown:
            raise ValueError(f"reference kind(s) {unknown} not fitted; available: {references.kinds}")
        self._parser = parser
        self._parse: ParseCache | None = None

    def maps(self, batch: dict, items: list) -> dict[str, np.ndarray]:
        """kind -> ``B x H x W`` float32 maps for the batch's images (``items`` in batch order)."""
        shape = tuple(batch["gt_map"].shape[-2:])
        parsings = [None] * len(items)
        if "layout_prior" in self.kinds:
            if self._parse is None:
                self._parse = ParseCache(self._parser or load_parser())
            parsings = self._parse(tensor_to_image(batch["image"]))
        return {kind: np.stack([self.references.predict(kind, it.property, shape, parsings[j])
                                for j, it in enumerate(items)]) for kind in self.kinds}
