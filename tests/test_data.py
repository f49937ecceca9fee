import gzip
import shutil
from pathlib import Path

import pytest
import torch

from ddcourse import data

SHIPPED = Path(data.__file__).resolve().parents[1] / "data" / "MNIST" / "raw"


@pytest.fixture
def data_copy(tmp_path, monkeypatch):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for packed in SHIPPED.glob("*.gz"):
        shutil.copy(packed, raw / packed.name)
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path))
    return raw


def test_shipped_files_decompress_to_the_published_checksums(data_copy):
    data.prepare_mnist(data_copy.parents[1])
    for name, md5 in data.MNIST_MD5.items():
        assert data._md5(data_copy / name) == md5


def test_load_mnist_gives_images_in_unit_range_with_labels():
    x, y = data.load_mnist("test", limit=100)
    assert x.shape == (100, 1, 28, 28) and x.dtype == torch.float32
    assert 0.0 <= x.min() and x.max() <= 1.0 and x.max() == 1.0
    assert y.dtype == torch.int64 and set(y.tolist()) <= set(range(10))
    train_x, _ = data.load_mnist("train")
    assert len(train_x) == 60_000


def test_missing_file_names_the_file_and_the_fix(data_copy):
    (data_copy / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(data.MNISTDataError, match=r"t10k-labels-idx1-ubyte.gz is missing.*git checkout"):
        data.prepare_mnist(data_copy.parents[1])


def test_corrupt_file_is_reported_and_removed(data_copy):
    data.prepare_mnist(data_copy.parents[1])
    target = data_copy / "t10k-labels-idx1-ubyte"
    payload = bytearray(target.read_bytes())
    payload[100] ^= 0xFF
    target.write_bytes(bytes(payload))
    with pytest.raises(data.MNISTDataError, match="t10k-labels-idx1-ubyte has MD5 .* corrupt"):
        data.prepare_mnist(data_copy.parents[1])
    assert not target.exists()
    data.prepare_mnist(data_copy.parents[1])  # decompressed again from the intact .gz
    assert target.exists()


def test_damaged_archive_is_reported(data_copy):
    packed = data_copy / "t10k-labels-idx1-ubyte.gz"
    packed.write_bytes(gzip.compress(b"not mnist")[:-8])
    with pytest.raises(data.MNISTDataError, match="t10k-labels-idx1-ubyte"):
        data.prepare_mnist(data_copy.parents[1])


@pytest.mark.parametrize("kwargs, message", [({"split": "validation"}, "split"), ({"limit": 0}, "limit")])
def test_bad_arguments_raise_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.load_mnist(**kwargs)
