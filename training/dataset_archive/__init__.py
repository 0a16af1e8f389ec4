"""Safe reading and validation of uploaded dataset archives (pure Python, no Django).

``read_dataset_archive`` validates a zip in place — nothing is extracted —
and returns a JSON-serialisable :class:`DatasetScan`; ``iter_examples`` and
``load_arrays`` read its accepted images again for training. Per-file problems
are listed in the scan; archive-level ones raise :class:`ArchiveRejected`.
Needs Pillow and NumPy only (through :mod:`ml.images`), never TensorFlow.
"""

from .conventions import SPLITS
from .errors import ArchiveRejected
from .examples import ExampleData, iter_examples, load_arrays
from .limits import ArchiveLimits
from .result import (
    DatasetScan,
    DuplicateFile,
    Example,
    ExcludedClass,
    IgnoredFile,
    ImageStats,
    RejectedFile,
)
from .scan import read_dataset_archive

__all__ = [
    "SPLITS",
    "ArchiveLimits",
    "ArchiveRejected",
    "DatasetScan",
    "DuplicateFile",
    "Example",
    "ExampleData",
    "ExcludedClass",
    "IgnoredFile",
    "ImageStats",
    "RejectedFile",
    "iter_examples",
    "load_arrays",
    "read_dataset_archive",
]
