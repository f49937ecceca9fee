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


# ----------------------------------------------------------------------------------------------------------- #
# CIFAR-10: a small folder in the layout of cifar-10-batches-py, written here (the real data is never needed)
# ----------------------------------------------------------------------------------------------------------- #
CIFAR_IMAGES_PER_BATCH = 4


@pytest.fixture
def cifar_folder(tmp_path, monkeypatch):
    """Five training batches, a test batch and batches.meta, pickled like the published ones; torchvision's
    published MD5 sums are replaced by those of these files, so that its check still runs and must pass."""
    import hashlib
    import pickle

    import numpy as np
    from torchvision.datasets import CIFAR10

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    written = {}

    def write(name, content):
        path = folder / name
        path.write_bytes(pickle.dumps(content))
        written[name] = hashlib.md5(path.read_bytes()).hexdigest()

    for i, (name, _) in enumerate(CIFAR10.train_list + CIFAR10.test_list):
        pixels = rng.integers(0, 256, size=(CIFAR_IMAGES_PER_BATCH, 3 * 32 * 32), dtype=np.uint8)
        write(name, {"batch_label": name, "labels": [(i + k) % 10 for k in range(CIFAR_IMAGES_PER_BATCH)],
                     "data": pixels, "filenames": [f"{name}_{k}.png" for k in range(CIFAR_IMAGES_PER_BATCH)]})
    write("batches.meta", {"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                                           "ship", "truck"], "num_cases_per_batch": CIFAR_IMAGES_PER_BATCH})
    monkeypatch.setattr(CIFAR10, "train_list", [[n, written[n]] for n, _ in CIFAR10.train_list])
    monkeypatch.setattr(CIFAR10, "test_list", [[n, written[n]] for n, _ in CIFAR10.test_list])
    monkeypatch.setattr(CIFAR10, "meta", {**CIFAR10.meta, "md5": written["batches.meta"]})
    data._load_cifar10_split.cache_clear()
    yield tmp_path
    data._load_cifar10_split.cache_clear()


def test_load_cifar10_reads_the_pickled_batches_channel_first_in_unit_range(cifar_folder):
    import pickle

    x, y = data.load_cifar10("train", root=cifar_folder)
    assert x.shape == (5 * CIFAR_IMAGES_PER_BATCH, 3, 32, 32) and x.dtype == torch.float32
    assert y.dtype == torch.int64 and y[:CIFAR_IMAGES_PER_BATCH].tolist() == [0, 1, 2, 3]
    first = pickle.loads((cifar_folder / "cifar-10-batches-py" / "data_batch_1").read_bytes())["data"][0]
    # the batch stores each image as 1024 red, then 1024 green, then 1024 blue values, row by row
    assert torch.equal(x[0], torch.tensor(first, dtype=torch.float32).reshape(3, 32, 32) / 255)
    x_test, y_test = data.load_cifar10("test", limit=3, root=cifar_folder)
    assert x_test.shape == (3, 3, 32, 32) and y_test.tolist() == [5, 6, 7]


def test_load_cifar10_from_the_environment_folder_through_load_images(cifar_folder, monkeypatch):
    monkeypatch.setenv(data.CIFAR10_ENV, str(cifar_folder))
    x, y = data.load_images("cifar10", "test", limit=2)
    assert x.shape == (2, 3, 32, 32) and len(y) == 2
    with pytest.raises(ValueError, match="dataset"):
        data.load_images("svhn", "test")


def test_load_cifar10_refuses_a_corrupt_batch_and_a_missing_folder_with_what_to_do(cifar_folder, tmp_path):
    with pytest.raises(data.CIFAR10DataError, match="download=True"):
        data.load_cifar10("test", root=tmp_path / "empty")
    batch = cifar_folder / "cifar-10-batches-py" / "test_batch"
    batch.write_bytes(batch.read_bytes()[:-1] + b"\0")
    data._load_cifar10_split.cache_clear()
    with pytest.raises(data.CIFAR10DataError, match="corrupt"):
        data.load_cifar10("test", root=cifar_folder)


def test_load_cifar10_rejects_bad_arguments_by_name(cifar_folder):
    with pytest.raises(ValueError, match="split"):
        data.load_cifar10("validation", root=cifar_folder)
    with pytest.raises(ValueError, match="limit"):
        data.load_cifar10("train", limit=0, root=cifar_folder)
