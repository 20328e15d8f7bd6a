"""Data: the raw record format, SynthOcc (rendered occluded hands) and the shared dataset code.

* `records`: the raw (pre-crop) record every loader produces; read it before writing a loader.
* `render`: numpy + OpenCV rasteriser (z-buffer) and analytic occluders (sphere, cylinder, box).
* `scene`: random cameras, hand placement, skin, lights, backgrounds, occluders at a target level.
* `synthocc`: the generator (deterministic from (seed, index)), shards, manifest, data_samples.
* `dataset`: crop + the paper's augmentation (`augment_sample`) and `SynthOccDataset`.
* `viz`: skeletons, masks and visibility drawn with matplotlib.

Importing this package is light (numpy only); torch is imported by `dataset` and `synthocc`.
"""

from .records import RECORD_KEYS, joints_box, make_record, project, validate_record

__all__ = ["RECORD_KEYS", "joints_box", "make_record", "project", "validate_record"]
