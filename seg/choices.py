"""Names and choices the command line offers, importable without torch or OpenCV.

``dancematte --help`` and usage errors must answer at once, so the parser takes its defaults
from here; ``seg.models`` and ``seg.dancers`` use the same constants.
"""

DEFAULT_MODEL = "dancematte-lite0"
DEFAULT_ARCH = "Unet"
DEFAULT_ENCODER = "tu-efficientnet_lite0"
DANCER_MODES = ("main", "all", "each")
