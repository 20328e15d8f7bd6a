"""handoccnet-lite: HandOccNet (CVPR 2022) rebuilt for teaching and ablations.

Importing the package is light (no torch); the parts live in submodules:
`hand` (hand models), `model` (backbone, FIT, SET, regressor), `losses`, `metrics`, `data`,
`engine` (training, evaluation, ablations), `tables`, `viz`, `cli`.
"""

__version__ = "0.1.0"
