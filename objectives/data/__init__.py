"""Images for proxy training: sources, the decode-once cache, the synthetic set, prepare-data.

`load_dataset(spec)` gives a `ProxyData` (train and held-out val, carved from training images)
for a `DataSpec`; `check_dataset` finds what every trial would, once, before any starts. The
readers (`read_cifar`, `scan_image_folder`, `decode_image`, `resize_uint8`) are the ones both
the loader and `prepare` (``nas-search prepare-data``) use, so a cache holds the very pixels its
source gives on the fly.
"""

from objectives.data.cache import MemmapSplit, is_cache, open_cache
from objectives.data.cifar import CIFAR_BATCHES, CIFAR_CLASSES, read_cifar, read_cifar_batch
from objectives.data.imagefolder import (
    ImageFolderSplit,
    class_root,
    decode_image,
    scan_image_folder,
)
from objectives.data.loading import check_dataset, load_dataset, read_dataset
from objectives.data.prepare_data import prepare
from objectives.data.resize import resize_uint8
from objectives.data.spec import DataSpec
from objectives.data.splits import ProxyData, Split, TensorSplit, materialize, split_indices
from objectives.data.synthetic import make_synthetic

__all__ = [
    "CIFAR_BATCHES",
    "CIFAR_CLASSES",
    "DataSpec",
    "ImageFolderSplit",
    "MemmapSplit",
    "ProxyData",
    "Split",
    "TensorSplit",
    "check_dataset",
    "class_root",
    "decode_image",
    "is_cache",
    "load_dataset",
    "make_synthetic",
    "materialize",
    "open_cache",
    "prepare",
    "read_cifar",
    "read_cifar_batch",
    "read_dataset",
    "resize_uint8",
    "scan_image_folder",
    "split_indices",
]
