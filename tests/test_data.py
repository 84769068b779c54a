import gzip
import hashlib
import shutil
import subprocess
import sys

import pytest
import torch
import torchvision

from lenet_helpers import data

TRAIN_PER_CLASS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_PER_CLASS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
PUBLISHED_MD5 = {  # as published with MNIST, for the uncompressed files
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}


@pytest.fixture(scope="module")
def test_set():
    return data.mnist_tensors(train=False)


def test_the_repository_carries_mnist(root):
    raw = root / "data" / "MNIST" / "raw"
    assert data.MNIST_FILES == PUBLISHED_MD5
    readme = (root / "data" / "README.md").read_text()
    for name, md5 in PUBLISHED_MD5.items():
        gz = raw / (name + ".gz")
        assert gz.exists(), f"{gz} is missing"
        with gzip.open(gz, "rb") as f:
            content = f.read()
        assert hashlib.md5(content).hexdigest() == md5
        assert md5 in readme and name in readme and f"{len(content):,}" in readme
    assert ", ".join(map(str, TRAIN_PER_CLASS)) in readme and ", ".join(map(str, TEST_PER_CLASS)) in readme
    assert "LeCun" in readme and "Cortes" in readme and "Burges" in readme


def test_prepare_mnist_verifies_the_repository_files():
    raw = data.prepare_mnist()
    for name in PUBLISHED_MD5:
        assert (raw / name).exists()


def test_sizes_and_class_counts(test_set):
    images, labels = test_set
    assert images.shape == (10_000, 1, 32, 32) and images.dtype == torch.float32
    assert labels.dtype == torch.int64
    assert labels.bincount().tolist() == TEST_PER_CLASS
    train_images, train_labels = data.mnist_tensors(train=True)
    assert train_images.shape == (60_000, 1, 32, 32)
    assert train_labels.bincount().tolist() == TRAIN_PER_CLASS


def test_paper_scaling_and_padding(test_set):
    images, _ = test_set
    assert images.min().item() == pytest.approx(data.PAPER_BACKGROUND, abs=1e-6)
    assert images.max().item() == pytest.approx(data.PAPER_FOREGROUND, abs=1e-6)
    border = torch.cat([images[..., :2, :].flatten(), images[..., -2:, :].flatten(), images[..., :, :2].flatten(), images[..., :, -2:].flatten()])
    assert torch.allclose(border, torch.tensor(data.PAPER_BACKGROUND))  # the padding is background


def test_standard_normalisation_constants_match_the_data():
    raw, _ = data.mnist_tensors(train=True, normalize="none", size=28)
    assert raw.mean().item() == pytest.approx(data.MNIST_MEAN, abs=5e-5)
    assert raw.std().item() == pytest.approx(data.MNIST_STD, abs=5e-5)
    standard, _ = data.mnist_tensors(train=True, normalize="standard", size=28)
    assert standard.mean().item() == pytest.approx(0.0, abs=1e-3)
    assert standard.std().item() == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize("normalize, size", [("paper", 32), ("standard", 32), ("standard", 28), ("none", 30)])
def test_dataset_and_tensors_agree(normalize, size):
    dataset = data.load_mnist(train=False, normalize=normalize, size=size)
    assert isinstance(dataset, torchvision.datasets.MNIST)
    images, labels = data.mnist_tensors(train=False, normalize=normalize, size=size)
    for i in (0, 1, 9_999):
        image, label = dataset[i]
        assert image.shape == (1, size, size)
        assert label == labels[i].item()
        torch.testing.assert_close(image, images[i], atol=1e-6, rtol=1e-6)


def test_normalization():
    mean, std = data.normalization("paper")
    assert (0 - mean) / std == pytest.approx(-0.1)
    assert (1 - mean) / std == pytest.approx(1.175)
    assert data.normalization("standard") == (0.1307, 0.3081)
    assert data.normalization("none") == (0.0, 1.0)


def test_a_relative_root_is_found_from_any_folder(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # as a notebook in chapters/ would be
    assert data.prepare_mnist("data").is_dir()
    assert not (tmp_path / "data").exists()


@pytest.fixture
def copy_of_mnist(tmp_path, root):
    """A fresh root holding only the four .gz files, as a new clone has them."""
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in PUBLISHED_MD5:
        shutil.copy(root / "data" / "MNIST" / "raw" / (name + ".gz"), raw)
    return tmp_path


def test_gz_files_are_decompressed_and_checked(copy_of_mnist):
    raw = data.prepare_mnist(copy_of_mnist, download=False)
    for name, md5 in PUBLISHED_MD5.items():
        assert hashlib.md5((raw / name).read_bytes()).hexdigest() == md5
    assert not list(raw.glob("*.tmp"))


def test_a_damaged_file_is_an_error(copy_of_mnist):
    raw = data.prepare_mnist(copy_of_mnist, download=False)
    labels = raw / "t10k-labels-idx1-ubyte"
    content = bytearray(labels.read_bytes())
    content[100] = (content[100] + 1) % 10  # one label changed: still a valid file, but not MNIST
    labels.write_bytes(bytes(content))
    with pytest.raises(data.DataIntegrityError) as info:
        data.mnist_tensors(copy_of_mnist, train=False, download=False)
    assert "t10k-labels-idx1-ubyte" in str(info.value) and "MD5" in str(info.value)


def test_a_damaged_gz_file_is_an_error(copy_of_mnist):
    gz = copy_of_mnist / "MNIST" / "raw" / "t10k-images-idx3-ubyte.gz"
    gz.write_bytes(gz.read_bytes()[: len(gz.read_bytes()) // 2])  # truncated
    with pytest.raises(data.DataIntegrityError) as info:
        data.prepare_mnist(copy_of_mnist, download=False)
    assert "t10k-images-idx3-ubyte.gz" in str(info.value)
    assert not (copy_of_mnist / "MNIST" / "raw" / "t10k-images-idx3-ubyte").exists()


def test_missing_files_without_network_give_instructions(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError) as info:
        data.prepare_mnist(tmp_path, download=False)
    assert "MNIST files missing" in str(info.value) and "Copy the four files" in str(info.value)
    # With download=True, torchvision tries its mirrors; here they are unreachable (as offline).
    monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", ["http://127.0.0.1:9/"])
    with pytest.raises(FileNotFoundError) as info:
        data.load_mnist(tmp_path / "elsewhere")
    message = str(info.value)
    assert "downloading them failed" in message and "connect to the internet" in message


def test_batches_cover_the_data_once_per_pass():
    x, y = torch.arange(10.0).view(10, 1), torch.arange(10)
    seen = torch.cat([yb for _, yb in data.batches(x, y, 3, generator=torch.Generator().manual_seed(0))])
    assert sorted(seen.tolist()) == list(range(10))
    assert [len(yb) for _, yb in data.batches(x, y, 3)] == [3, 3, 3, 1]
    ordered = [yb.tolist() for _, yb in data.batches(x, y, 5, shuffle=False)]
    assert ordered == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]
    for xb, yb in data.batches(x, y, 4):
        assert torch.equal(xb[:, 0].long(), yb)  # images stay with their labels


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: data.load_mnist(normalize="paperish"), ValueError, ["normalize", "'paper'", "'standard'"]),
        (lambda: data.load_mnist(size=29), ValueError, ["size", "even"]),
        (lambda: data.load_mnist(size=24), ValueError, ["size", ">= 28"]),
        (lambda: data.mnist_tensors(size=32.0), TypeError, ["size", "integer"]),
        (lambda: data.mnist_tensors(train="yes"), TypeError, ["train", "True"]),
        (lambda: data.load_mnist(train=1), TypeError, ["train"]),
        (lambda: data.prepare_mnist(root=5), TypeError, ["root", "path"]),
        (lambda: data.normalization("z-score"), ValueError, ["normalize"]),
        (lambda: list(data.batches(torch.zeros(4, 1), torch.zeros(3), 2)), ValueError, ["images and labels", "same length"]),
        (lambda: list(data.batches(torch.zeros(4, 1), torch.zeros(4), 0)), ValueError, ["batch_size", "positive"]),
        (lambda: list(data.batches(torch.zeros(4, 1), torch.zeros(4, 1), 2)), ValueError, ["labels"]),
    ],
)
def test_data_rejects_bad_input(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value)


def test_batch_source_reads_tensors_datasets_and_loaders():
    x, y = torch.arange(10.0).view(10, 1), torch.arange(10)
    source, n = data.batch_source((x, y), 4, "cpu")
    assert n == 3 and [yb.tolist() for _, yb in source()] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]  # in order
    shuffled, _ = data.batch_source((x, y), 4, torch.device("cpu"), shuffle=True)
    assert sorted(torch.cat([yb for _, yb in shuffled()]).tolist()) == list(range(10))
    dataset = torch.utils.data.TensorDataset(x, y)
    source, n = data.batch_source(dataset, 3, "cpu")
    assert n == 4 and [len(yb) for _, yb in source()] == [3, 3, 3, 1]
    loader = torch.utils.data.DataLoader(dataset, batch_size=5)
    source, n = data.batch_source(loader, 3, "cpu")  # a loader keeps its own batch size
    assert n == 2 and [len(yb) for _, yb in source()] == [5, 5] == [len(yb) for _, yb in source()]  # every pass
    with pytest.raises(ValueError, match="train_data must be \\(images, labels\\) of the same length"):
        data.batch_source((x, y[:3]), 4, "cpu", name="train_data")
    with pytest.raises(TypeError, match="data must be a pair of tensors"):
        data.batch_source(x, 4, "cpu")
    with pytest.raises(ValueError, match="batch_size"):
        data.batch_source((x, y), 0, "cpu")
    with pytest.raises(ValueError, match="device must be"):
        data.batch_source((x, y), 4, "no such device")


def test_split_validation_holds_out_the_same_images_for_every_caller():
    x, y = torch.arange(100.0).view(100, 1), torch.arange(100)
    (tx, ty), (vx, vy) = data.split_validation(x, y, 10, seed=3)
    assert len(ty) == 90 and len(vy) == 10
    assert torch.equal(tx[:, 0].long(), ty) and torch.equal(vx[:, 0].long(), vy)
    assert sorted(ty.tolist() + vy.tolist()) == list(range(100))
    torch.manual_seed(123)  # the global random state does not matter
    (_, ty2), (_, vy2) = data.split_validation(x, y, 10, seed=3)
    assert torch.equal(vy, vy2) and torch.equal(ty, ty2)
    (_, _), (_, vy_other) = data.split_validation(x, y, 10, seed=4)
    assert not torch.equal(vy, vy_other)


@pytest.mark.parametrize("kwargs, error, words", [
    ({"size": 0}, ValueError, "size must be a positive integer"),
    ({"size": 100}, ValueError, "size must be smaller than the number of images"),
    ({"size": 2.5}, TypeError, "size must be an integer"),
    ({"size": 10, "seed": -1}, ValueError, "seed must be a non-negative integer"),
])
def test_split_validation_rejects_bad_arguments(kwargs, error, words):
    x, y = torch.zeros(100, 1), torch.zeros(100, dtype=torch.long)
    with pytest.raises(error, match=words):
        data.split_validation(x, y, **kwargs)
    with pytest.raises(ValueError, match="same length"):
        data.split_validation(x, y[:5])


def test_processes_decompressing_at_once_do_not_collide(copy_of_mnist):
    """On a fresh clone, make test's two workers (and the book's notebooks) can decompress MNIST at the same time:
    each writes its own temporary file, so neither sees the other's half-written one."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        folders = pool.starmap(data.prepare_mnist, [(copy_of_mnist, False)] * 2)
    assert folders[0] == folders[1]
    for name, md5 in PUBLISHED_MD5.items():
        assert hashlib.md5((folders[0] / name).read_bytes()).hexdigest() == md5
    assert not list(folders[0].glob("*.tmp"))


def test_read_idx_reads_what_torchvision_reads():
    """mnist_tensors reads the IDX files itself (no torchvision import): the same arrays as torchvision's MNIST."""
    raw = data.prepare_mnist()
    dataset = torchvision.datasets.MNIST(str(raw.parent.parent), train=False)
    assert torch.equal(data.read_idx(raw / "t10k-images-idx3-ubyte"), dataset.data)
    assert torch.equal(data.read_idx(raw / "t10k-labels-idx1-ubyte"), dataset.targets.to(torch.uint8))


@pytest.mark.parametrize("content, words", [
    (b"\x00\x00\x0d\x01\x00\x00\x00\x02ab", "not an IDX file of unsigned bytes"),   # 0x0d: floats
    (b"PK\x03\x04", "not an IDX file"),
    (b"\x00\x00\x08\x02\x00\x00\x00\x03\x00\x00\x00\x02abc", "truncated or damaged"),  # 3×2 announced, 3 bytes
    (b"\x00\x00\x08\x02\x00\x00", "truncated or damaged"),                           # the header itself cut short
])
def test_read_idx_refuses_what_is_not_an_idx_file(tmp_path, content, words):
    path = tmp_path / "file-idx"
    path.write_bytes(content)
    with pytest.raises(data.DataIntegrityError, match=words):
        data.read_idx(path)


def test_read_idx_wants_a_path():
    with pytest.raises(TypeError, match="path must be the path of an IDX file"):
        data.read_idx(42)


def test_mnist_tensors_does_not_import_torchvision():
    """The chapters that only need the tensors are spared torchvision's import (seconds: it imports torch._dynamo)."""
    code = ("import sys; from lenet_helpers import data; data.mnist_tensors(train=False); "
            "print('torchvision' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
