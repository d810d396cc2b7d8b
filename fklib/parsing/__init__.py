"""Face parsing: property -> region table and face attention maps (paper §4.4).

- :data:`PROPERTY_REGIONS`, :func:`region_mask` -- which CelebAMask-HQ classes each edit touches.
- :func:`attention_map` -- region blurred and rescaled to ``[floor, 1]``.

- :class:`FaceParser`, :func:`load_parser`, :func:`parse` -- our parser, trained on ``celebamask_hq``
  (``python -m fklib.parsing train``), shipped in ``models/face_parser.safetensors``.
- :class:`ParseCache` -- :func:`parse` with each image parsed once (in memory and under ``data/cache/parsing``).
"""

from .attention import ParsedImages, ParsingAttention, attention_from_mask, attention_map
from .cache import ParseCache
from .parser import FaceParser, class_iou, load_parser, parse, parsing_split
from .regions import CLASSES, PROPERTY_REGIONS, region_mask

__all__ = ["attention_map", "attention_from_mask", "ParsingAttention", "ParsedImages", "CLASSES", "PROPERTY_REGIONS",
           "region_mask", "FaceParser", "class_iou", "load_parser", "parse", "parsing_split", "ParseCache"]
