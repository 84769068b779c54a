"""The format the browser reads: a model exported as simple operations and float32 tensors, and loaded back."""

import base64

import pytest
import torch

from lenet_helpers import data, export, models
from test_widgets import trained_like


@pytest.mark.parametrize("make", [models.LeNet5, models.LeNet5Modern, models.LeNetD2L,
                                  lambda: models.lenet_variant("sigmoid", "avg", dropout=0.5)])
def test_export_then_load_gives_back_the_same_model(make):
    original = trained_like(make(), seed=1)
    size = original.input_size[1]
    spec, tensors = export.export_model(original, "m", input_size=size)
    flat = torch.cat([t.flatten() for t in tensors.values()])
    copy = export.load_exported(make(), spec, base64.b64encode(flat.numpy().tobytes()).decode())
    for (key, a), b in zip(original.state_dict().items(), copy.state_dict().values()):
        assert torch.equal(a, b), key
    assert sum(p.numel() for p in original.parameters()) <= len(flat)


def test_export_refuses_what_the_browser_cannot_run():
    with pytest.raises(TypeError, match=r"0: the browser's forward pass does not support BatchNorm2d"):
        export.export_model(torch.nn.Sequential(torch.nn.BatchNorm2d(1)), "bn")
    with pytest.raises(ValueError, match="input_size must be 28 plus an even number"):
        export.export_model(models.LeNet5(), "x", input_size=31)
    with pytest.raises(ValueError, match="name must be a non-empty string"):
        export.export_model(models.LeNet5(), "")
    spec, tensors = export.export_model(models.LeNet5(), "x")
    with pytest.raises(ValueError, match="weights must hold the 60840 numbers the spec"):
        export.load_exported(models.LeNet5(), spec, torch.zeros(5))
    with pytest.raises(ValueError, match="is it the exported model"):
        export.load_exported(models.LeNet5Modern(), spec, torch.zeros(60840))


def test_model_input_pads_and_normalises_like_the_training_data():
    spec, _ = export.export_model(models.LeNet5(), "x")
    images, _ = data.mnist_tensors(train=False, normalize="none", size=28)
    padded, _ = data.mnist_tensors(train=False, normalize="paper", size=32)
    torch.testing.assert_close(export.model_input(images[:5, 0], spec), padded[:5])
    with pytest.raises(ValueError, match="digits must be 28×28 MNIST digits"):
        export.model_input(torch.zeros(2, 32, 32), spec)


def test_the_digits_the_browser_trains_on_are_mnists_first():
    (train_images, train_labels), (test_images, test_labels) = export.training_digits(50, 20)
    images, labels = data.mnist_tensors(train=True, normalize="none", size=28)
    assert torch.equal(train_images, (images[:50, 0] * 255).round().to(torch.uint8))
    assert torch.equal(train_labels.long(), labels[:50])
    images, labels = data.mnist_tensors(train=False, normalize="none", size=28)
    assert torch.equal(test_images, (images[:20, 0] * 255).round().to(torch.uint8)) and torch.equal(test_labels.long(), labels[:20])
    for bad, match in (((0, 10), "n_train must be a positive integer"), ((60_001, 10), "MNIST has 60,000 training"),
                       ((10, 10_001), "MNIST has 60,000 training and 10,000 test digits")):
        with pytest.raises(ValueError, match=match):
            export.training_digits(*bad)


def test_the_pack_records_where_its_digits_come_from_and_is_small():
    import gzip
    import hashlib
    import json

    header, packed = export.pack_digits()
    payload = gzip.decompress(packed)
    assert (header["train"], header["test"]) == (export.TRAIN_DIGITS, export.TEST_DIGITS)
    assert len(payload) == (export.TRAIN_DIGITS + export.TEST_DIGITS) * (28 * 28 + 1)
    assert header["payload_md5"] == hashlib.md5(payload).hexdigest() and header["source_md5"] == data.MNIST_FILES
    assert export.pack_digits()[1] == packed  # deterministic: no time stamp
    script = export.digits_script()
    assert len(script.encode()) <= 3_000_000
    pack = json.loads(script[script.index("= ") + 2:script.rstrip().rindex(";")])
    assert base64.b64decode(pack["gzip"]) == packed and {k: v for k, v in pack.items() if k != "gzip"} == header


def test_the_layers_headings_are_in_both_languages():
    """The draw pad shows a layer's heading in its page's language: what (English) and what_zh (Chinese)."""
    spec, _ = export.export_model(models.LeNet5Modern(), "LeNet5Modern")
    headings = {layer["name"]: (layer["what"], layer["what_zh"]) for layer in spec["layers"]}
    assert headings["C1"] == ("conv 5×5, 1→6, relu", "卷积 5×5，1→6，ReLU")
    assert headings["S2"] == ("max pooling 2", "最大汇聚 2")
    assert headings["F6"][1] == "全连接 120→84，ReLU"
