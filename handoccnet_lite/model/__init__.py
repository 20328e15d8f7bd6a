"""The network's parts: FIT and SET (with their attention maps) and, beside them, the backbone,
regressor and the whole HandOccNet. Importing this package imports torch; the top-level
``handoccnet_lite`` does not import it.
"""

from .attention import AttentionMaps
from .fit import FIT
from .set import SET

__all__ = ["FIT", "SET", "AttentionMaps"]

# Backbone, regressor, the whole network and the release's checkpoint (appended by their author).
from handoccnet_lite.config import preset  # noqa: E402

from .backbone import Backbone, BackboneOutput, SpatialGate  # noqa: E402
from .checkpoint import CheckpointReport, load_official_checkpoint  # noqa: E402
from .handoccnet import HandOccNet  # noqa: E402
from .regressor import Regressor  # noqa: E402
from .rotations import matrix_to_axis_angle, rot6d_to_matrix  # noqa: E402

__all__ += [
    "Backbone", "BackboneOutput", "CheckpointReport", "HandOccNet", "Regressor", "SpatialGate",
    "load_official_checkpoint", "matrix_to_axis_angle", "preset", "rot6d_to_matrix",
]  # fmt: skip
