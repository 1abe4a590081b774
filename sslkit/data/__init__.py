"""Dataset sources (one file each) and the loader that yields uint8 image batches."""

from sslkit.data._find import find_dataset_dir
from sslkit.data.base import DatasetInfo, Source
from sslkit.data.loader import BatchLoader

__all__ = ["BatchLoader", "DatasetInfo", "Source", "find_dataset_dir"]
