"""modules: the device of a module, evaluation mode for a moment, a layer's description."""

import pytest
import torch
from torch import nn

from lenet_helpers import modules
from lenet_helpers.layers import C3_TABLE, PartialConv2d, Squash


def test_device_of_a_module_with_and_without_tensors():
    assert modules.device_of(nn.Linear(2, 3)) == torch.device("cpu")
    assert modules.device_of(nn.ReLU()) == torch.device("cpu")  # nothing inside: the CPU
    with_buffer = nn.BatchNorm1d(3, affine=False)  # buffers only
    assert modules.device_of(with_buffer) == torch.device("cpu")


@pytest.mark.parametrize("start_training", [True, False])
def test_evaluating_restores_the_mode_it_found(start_training):
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5)).train(start_training)
    with modules.evaluating(model) as inside:
        assert inside is model and not model.training and not model[1].training
    assert model.training is start_training and model[1].training is start_training


def test_evaluating_restores_the_mode_after_an_error():
    model = nn.Dropout(0.5).train()
    with pytest.raises(RuntimeError, match="boom"):
        with modules.evaluating(model):
            raise RuntimeError("boom")
    assert model.training


def test_describe():
    assert modules.describe(nn.Sequential(nn.Conv2d(1, 6, 5), Squash())) == "conv 5×5, 1→6 + scaled tanh"
    assert modules.describe(PartialConv2d(C3_TABLE)) == "conv 5×5, 6→16 (Table I)"
    assert modules.describe(nn.MaxPool2d(2)) == "max pool 2×2"


def test_describe_the_layers_of_torchvisions_networks():
    assert modules.describe(nn.MaxPool2d(3, stride=2, padding=1)) == "max pool 3×3, stride 2, padding 1"
    assert modules.describe(nn.AvgPool2d((2, 2), stride=(2, 2))) == "avg pool 2×2"
    assert modules.describe(nn.Conv2d(32, 32, 3, padding=2, dilation=2, groups=32)) == (
        "conv 3×3, 32→32, padding 2, dilation 2, depthwise")
    assert modules.describe(nn.Conv2d(4, 8, 1, groups=2)) == "conv 1×1, 4→8, 2 groups"
    assert modules.describe(nn.AdaptiveAvgPool2d(1)) == "adaptive avg pool to 1×1"
    assert modules.describe(nn.AdaptiveMaxPool2d((None, 7))) == "adaptive max pool to any×7"
    assert [modules.describe(m) for m in (nn.BatchNorm2d(3), nn.Dropout(0.5), nn.ReLU6(), nn.Hardswish(), nn.SiLU(),
                                          nn.GELU(), nn.LogSoftmax(1), nn.Identity())] == [
        "batch norm", "dropout", "ReLU6", "hardswish", "SiLU", "GELU", "log-softmax", "Identity"]


@pytest.mark.parametrize("call", [lambda: modules.device_of("model"), lambda: modules.evaluating(3).__enter__()])
def test_a_module_is_required(call):
    with pytest.raises(TypeError, match="module must be a torch.nn.Module"):
        call()


def test_the_eval_mode_pattern_is_written_once(root):
    """Saving the mode, switching to eval and restoring it is modules.evaluating, not repeated code."""
    for path in (root / "lenet_helpers").rglob("*.py"):
        if path.name != "_unchecked.py":  # modules.evaluating's body, also for callers that checked the model
            text = path.read_text()
            assert "was_training" not in text, f"{path.name}: use modules.evaluating(model)"
            assert "_model_device" not in text, f"{path.name}: use modules.device_of(model)"


def test_the_import_graph_runs_down_and_has_no_circles(root):
    """counting, sdlm and widgets use the paper's layers, not the networks; no module imports one above it."""
    import ast

    package = root / "lenet_helpers"
    graph = {}
    for path in package.glob("*.py"):
        tree = ast.parse(path.read_text())
        found = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                if node.module:
                    found.add(node.module.split(".")[0])
                else:
                    found.update(alias.name for alias in node.names)
        graph[path.stem] = found - {path.stem}
    for low in ("counting", "sdlm", "layers", "modules"):  # widgets makes the networks its trainer trains
        assert "models" not in graph[low], f"{low} imports models: it should import layers"
    assert graph["layers"] <= {"_validate"}, graph["layers"]

    def visit(node, stack):
        assert node not in stack, f"an import circle: {' -> '.join(stack + [node])}"
        for child in graph.get(node, ()):
            if child in graph:
                visit(child, stack + [node])

    for name in graph:
        if name != "__init__":
            visit(name, [])


def test_modules_do_not_take_each_others_private_names(root):
    """A helper two modules need is public (documented, in __all__) or lives in a private module (_validate, _window,
    _unchecked, checks._core, ...): no module imports a private name of a public sibling (language's ``_`` is
    gettext's, not a private name)."""
    import ast

    found = set()
    for path in (root / "lenet_helpers").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level >= 1 and node.module:
                source = node.module.split(".")[-1]
                if not source.startswith("_"):
                    found |= {(path.stem, source, a.name) for a in node.names
                              if a.name.startswith("_") and (source, a.name) != ("language", "_")}
            elif isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__") \
                    and isinstance(node.value, ast.Name) and node.value.id in PUBLIC_MODULES and node.value.id != path.stem:
                found.add((path.stem, node.value.id, node.attr))  # plots._PLAYER_TEXT, a public module's private name
    assert not found, sorted(found)


#: The package's public modules, by the names its modules import them as.
PUBLIC_MODULES = {"conv", "pool", "counting", "tracing", "layers", "models", "backprop", "modules", "data", "train",
                  "evaluation", "experiments", "sdlm", "fast_sdlm", "results", "inside", "plots", "player", "export",
                  "widgets", "language", "checks", "answers", "capstone", "lenet5", "modern", "training"}


def test_a_model_is_checked_once_per_call(module_checks):
    """train.evaluate(model) checks the model at its entry; device_of and evaluating inside it do not check again."""
    from lenet_helpers import _validate, evaluation, models, train

    calls = module_checks(_validate, evaluation, modules)
    x, y = torch.zeros(3, 1, 32, 32), torch.zeros(3, dtype=torch.long)
    train.evaluate(models.LeNet5(), (x, y))
    assert calls == ["model"]
    calls.clear()
    evaluation.predictions(models.LeNet5(), (x, y))
    evaluation.error_rate(models.LeNet5(), (x, y))
    assert calls == ["model", "model"]
    calls.clear()
    modules.device_of(nn.Linear(1, 1))  # the public helpers still check
    with modules.evaluating(nn.Linear(1, 1)):
        pass
    assert calls == ["module", "module"]
    with pytest.raises(TypeError, match="module must be a torch.nn.Module"):
        modules.device_of("model")
    with pytest.raises(TypeError, match="module must be a torch.nn.Module"):
        with modules.evaluating("model"):
            pass


def test_describe_speaks_the_packages_language():
    from lenet_helpers.language import using

    description = modules.describe(nn.Sequential(nn.Conv2d(1, 6, 5, padding=2, stride=2), Squash()))
    assert description == "conv 5×5, 1→6, padding 2, stride 2 + scaled tanh"
    assert description.render("zh_CN") == "卷积 5×5，1→6，填充 2，步幅 2 + 缩放的 tanh"
    with using("zh_CN"):
        assert modules.describe(PartialConv2d(C3_TABLE)) == "卷积 5×5，6→16（表 I）"
        assert modules.describe(nn.Sequential(nn.Flatten(), nn.Linear(120, 84), nn.ReLU())) == "展平 + 全连接 120→84 + ReLU"
    words = modules.layer_words(nn.Conv2d(1, 6, 5, padding=2))
    assert [str(w.what) for w in words] == ["conv 5×5"] and [str(d) for d in words[0].details] == ["pad 2"]


def test_a_chapters_own_course_layers_are_described_like_the_packages():
    """Chapter 4 writes Squash, Subsampling, PartialConv2d and EuclideanRBF itself: its tables say the same as the
    package's."""

    class Squash(nn.Module):
        def forward(self, x):
            return x

    class Subsampling(nn.Module):
        def __init__(self):
            super().__init__()
            self.channels, self.kernel_size = 6, 2

    class Other(nn.Module):
        pass

    assert modules.describe(nn.Sequential(Subsampling(), Squash())) == "subsampling 2×2 (trainable) + scaled tanh"
    assert modules.describe(Other()) == "Other"
