"""Face parsing: property -> region table and face attention maps (paper §4.4).

- :data:`PROPERTY_REGIONS`, :func:`region_mask` -- which CelebAMask-HQ classes each edit touches.
- :func:`attention_map` -- region blurred and rescaled to ``[floor, 1]``.

(The trained parser itself comes with the face-parsing issue.)
"""

from .attention import attention_map
from .regions import CLASSES, PROPERTY_REGIONS, region_mask

__all__ = ["attention_map", "CLASSES", "PROPERTY_REGIONS", "region_mask"]
