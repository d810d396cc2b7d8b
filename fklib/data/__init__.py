"""Data: verified fetch, readers per source layout, GT fakeness maps, splits, Dataset and cache.

Public API::

    fetch(dest=None)                          # fill data/ from the mirror or upstream, verified
    gt_map(real, fake), binary_map(m, t, size)
    read_stgan_strip, read_attgan_grid, read_stargan_strip, read_interfacegan,
    read_celebamask, read_generic, load_rgb
    load_set("stgan", split="train")          # list[Item], cached under data/cache/
    ensure_splits(), identities("test"), paper_protocol(ids)
    FakeMapDataset(items, size=128, flip=True)
    image_to_tensor(rgb), tensor_to_image(x)  # uint8 HxWx3 <-> float 3xHxW in [0, 1]
"""

from ..convert import image_to_tensor, tensor_to_image
from .dataset import FakeMapDataset, resize_pair
from .figure_tiles import FIGURE_LAYOUTS, figure_items, read_figure_tiles
from .fetching import FetchError, fetch, load_manifest, manifest_hash, upstream_url
from .images import load_label, load_rgb
from .maps import binary_map, entire_map, gt_map, real_map
from .readers import (CELEBAMASK_CLASSES, ENTIRE, REAL, RECONSTRUCTION, STARGAN_PROPERTIES, STGAN_PROPERTIES,
                      BadFilesError, Item, ParsingSample, Strip, read_attgan_grid, read_celebamask,
                      read_celebamask_pair, read_generic,
                      read_interfacegan, read_stargan_strip, read_stgan_strip)
from .select import limit_items, stratified_items
from .splices import SPLICE_KINDS, SPLICE_SETS, SpliceAugment, ensure_splice_set, splice, splice_item, splice_mask
from .sets import SET_FOLDERS, gt_maps, load_set
from .splits import ensure_splits, identities, make_splits, paper_protocol, read_splits

__all__ = [
    "image_to_tensor", "tensor_to_image", "FIGURE_LAYOUTS", "figure_items", "read_figure_tiles",
    "FakeMapDataset", "resize_pair", "FetchError", "fetch", "load_manifest", "manifest_hash", "upstream_url",
    "load_label", "load_rgb", "binary_map", "entire_map", "gt_map", "real_map", "CELEBAMASK_CLASSES", "ENTIRE", "REAL",
    "RECONSTRUCTION", "STARGAN_PROPERTIES", "STGAN_PROPERTIES", "BadFilesError", "Item", "ParsingSample", "Strip",
    "read_attgan_grid", "read_celebamask", "read_celebamask_pair", "read_generic", "read_interfacegan",
    "read_stargan_strip", "read_stgan_strip", "SET_FOLDERS", "gt_maps", "load_set", "limit_items", "stratified_items",
    "SPLICE_KINDS", "SPLICE_SETS", "SpliceAugment", "ensure_splice_set", "splice", "splice_item", "splice_mask", "ensure_splits",
    "identities", "make_splits", "paper_protocol", "read_splits",
]
