"""Locator models: registry, shapes, the [0, 1] map, the classifier head, face attention, weights.

DeepLabV3-ResNet101 is built once (module fixture) and run at 64 px (128 px for one shape check)
to keep the file fast on 2 CPU cores.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch
from torch import nn

from fklib.models import (LocatorOutput, attend, coco_voc_checkpoint_path, count_parameters, create_model, is_model,
                          list_models, load_coco_voc_state_dict, lite0_weights_path, register_model)
from fklib.models import registry as registry_module
from fklib.models.common import ImageNetNormalize

ALL = ["unet_small", "efficientnet_lite0_unet", "deeplabv3_resnet101"]
SMALL = ["unet_small", "efficientnet_lite0_unet"]
DEEPLAB_FILE = "deeplabv3_resnet101_coco-586e9e4e.pth"
MODELS_DIR = Path(__file__).resolve().parents[1] / "fklib" / "models"


# ----------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def deeplab_build(tmp_path_factory):
    """(model, warnings) of the one DeepLab build: pretrained=True with an empty hub cache."""
    hub = tmp_path_factory.mktemp("hub")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(torch.hub, "get_dir", lambda: str(hub))
        with pytest.warns(UserWarning) as record:
            model = create_model("deeplabv3_resnet101", pretrained=True)
        expected = coco_voc_checkpoint_path()
    return model, [str(w.message) for w in record], expected


@pytest.fixture(scope="module")
def small_models():
    return {name: create_model(name) for name in SMALL}


@pytest.fixture(params=ALL)
def named_model(request, small_models):
    """(name, model, test size, batch): the small models at 128 px, DeepLab at 64 px."""
    name = request.param
    if name == "deeplabv3_resnet101":
        return name, request.getfixturevalue("deeplab_build")[0], 64, 2
    return name, small_models[name], 128, 2


def inputs(b: int, size: int | tuple[int, int], seed: int = 0):
    h, w = (size, size) if isinstance(size, int) else size
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(b, 3, h, w, generator=g)
    att = torch.rand(b, 1, h, w, generator=g)
    return x, att


def run_eval(model: nn.Module, x, attention=None) -> LocatorOutput:
    model.eval()
    with torch.no_grad():
        return model(x, attention)


def check_output(out, b: int, h: int, w: int, classifier: bool = True) -> None:
    assert isinstance(out, LocatorOutput)
    assert out.map.shape == (b, 1, h, w)
    assert out.map.dtype == torch.float32
    assert torch.isfinite(out.map).all()
    assert out.map.min() >= 0 and out.map.max() <= 1
    if classifier:
        assert out.logit is not None and out.logit.shape == (b,)
        assert torch.isfinite(out.logit).all()
    else:
        assert out.logit is None


# ----------------------------------------------------------------------------- registry

def test_registry_lists_the_three_models():
    names = list_models()
    assert set(ALL) <= set(names)
    assert names == sorted(names)
    assert all(is_model(n) for n in ALL) and not is_model("resnet9000")


def test_unknown_model_raises_with_known_names():
    with pytest.raises(ValueError) as err:
        create_model("resnet9000")
    for name in ALL:
        assert name in str(err.value)


def test_create_model_passes_kwargs_and_rejects_unknown_ones():
    small = create_model("unet_small", base=8)
    assert count_parameters(small) < count_parameters(create_model("unet_small"))
    with pytest.raises(TypeError):
        create_model("unet_small", no_such_argument=1)


def test_register_model_bare_named_and_duplicate():
    try:
        @register_model
        def _tiny_for_test(*, width: int = 2) -> nn.Module:
            return nn.Conv2d(3, width, 1)

        @register_model("tiny_named_for_test")
        class _Tiny(nn.Module):
            pass

        assert create_model("_tiny_for_test", width=4).out_channels == 4
        assert isinstance(create_model("tiny_named_for_test"), _Tiny)
        with pytest.raises(ValueError, match="already registered"):
            register_model("unet_small")(_Tiny)
    finally:
        registry_module._MODELS.pop("_tiny_for_test", None)
        registry_module._MODELS.pop("tiny_named_for_test", None)
    assert "_tiny_for_test" not in list_models()


# ----------------------------------------------------------------------------- shapes and ranges

@pytest.mark.parametrize("name", SMALL)
@pytest.mark.parametrize("size", [128, 224, (96, 160)])
def test_small_model_shapes(small_models, name, size):
    x, att = inputs(2, size)
    out = run_eval(small_models[name], x)
    check_output(out, 2, *x.shape[-2:])
    check_output(run_eval(small_models[name], x, att), 2, *x.shape[-2:])


def test_deeplab_shapes(deeplab_build):
    model = deeplab_build[0]
    x, att = inputs(2, 64)
    check_output(run_eval(model, x, att), 2, 64, 64)
    x, _ = inputs(1, 128)
    check_output(run_eval(model, x), 1, 128, 128)


def test_train_mode_output(named_model):
    name, model, size, b = named_model
    x, att = inputs(b, size)
    model.train()
    out = model(x, att)
    check_output(out, b, size, size)
    assert out.map.requires_grad and out.logit.requires_grad


@pytest.mark.parametrize("name", SMALL)
def test_no_classifier_variant(name):
    kwargs = {"pretrained": False} if name == "efficientnet_lite0_unet" else {}
    model = create_model(name, classifier=False, **kwargs)
    assert model.cls_head is None
    x, att = inputs(2, 128)
    check_output(run_eval(model, x, att), 2, 128, 128, classifier=False)


def test_deeplab_no_classifier_forward(deeplab_build):
    """The 'no cl' forward path (the constructor sets ``cls_head = None`` for classifier=False)."""
    model = deeplab_build[0]
    head, model.cls_head = model.cls_head, None
    try:
        check_output(run_eval(model, inputs(2, 64)[0]), 2, 64, 64, classifier=False)
    finally:
        model.cls_head = head


def test_bad_inputs_raise(small_models):
    model = small_models["unet_small"].eval()
    with pytest.raises(ValueError):
        model(torch.rand(1, 1, 64, 64))
    with pytest.raises(ValueError):
        model(torch.rand(1, 3, 64, 64), torch.ones(1, 1, 32, 32))


# ----------------------------------------------------------------------------- attention

def test_attend_resizes_and_keeps_ones_exact():
    feat = torch.randn(2, 5, 8, 8)
    same, att = attend(feat, None)
    assert same is feat and att is None
    out, att = attend(feat, torch.ones(2, 1, 256, 256))
    assert att.shape == (2, 1, 8, 8) and torch.equal(out, feat)
    half = torch.zeros(2, 1, 32, 32)
    half[..., :16] = 1.0  # left half
    out, att = attend(feat, half)
    assert torch.equal(out[..., :4], feat[..., :4]) and torch.equal(out[..., 4:], torch.zeros_like(feat[..., 4:]))


def test_attention_of_ones_equals_none(named_model):
    name, model, size, b = named_model
    x, _ = inputs(b, size)
    ref = run_eval(model, x)
    ones = run_eval(model, x, torch.ones(b, 1, size, size))
    assert torch.equal(ref.map, ones.map)
    assert torch.equal(ref.logit, ones.logit)


def test_zero_attention_changes_output(named_model):
    name, model, size, b = named_model
    x, att = inputs(b, size)
    ref = run_eval(model, x)
    zero = run_eval(model, x, torch.zeros(b, 1, size, size))
    part = run_eval(model, x, att)
    assert not torch.allclose(ref.map, zero.map)
    assert not torch.allclose(ref.logit, zero.logit)
    assert not torch.allclose(ref.map, part.map)


# ----------------------------------------------------------------------------- gradients, determinism

def first_encoder_weight(name: str, model: nn.Module) -> torch.Tensor:
    return {
        "unet_small": lambda: model.encoder[0][0][0].weight,
        "efficientnet_lite0_unet": lambda: model.encoder.conv_stem.weight,
        "deeplabv3_resnet101": lambda: model.backbone.conv1.weight,
    }[name]()


def test_gradients_reach_first_encoder_layer(named_model):
    name, model, size, b = named_model
    x, att = inputs(b, size)
    model.train()
    model.zero_grad(set_to_none=True)
    out = model(x, att)
    loss = (out.map - 0.5).abs().mean() + nn.functional.binary_cross_entropy_with_logits(out.logit, torch.ones(b))
    loss.backward()
    grad = first_encoder_weight(name, model).grad
    assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0
    head_grad = model.cls_head.fc.weight.grad
    assert head_grad is not None and head_grad.abs().sum() > 0
    model.zero_grad(set_to_none=True)


def test_eval_is_deterministic(named_model):
    name, model, size, b = named_model
    x, att = inputs(b, size)
    a, c = run_eval(model, x, att), run_eval(model, x, att)
    assert torch.equal(a.map, c.map) and torch.equal(a.logit, c.logit)


def test_channels_last_is_layout_only():
    torch.manual_seed(0)
    fast = create_model("unet_small", channels_last=True)
    plain = create_model("unet_small", channels_last=False)
    plain.load_state_dict(fast.state_dict())
    x, att = inputs(2, 64)
    a, c = run_eval(fast, x, att), run_eval(plain, x, att)
    torch.testing.assert_close(a.map, c.map, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(a.logit, c.logit, rtol=1e-4, atol=1e-4)
    norm = ImageNetNormalize(channels_last=True)(x)
    assert norm.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(norm, ImageNetNormalize()(x), rtol=0, atol=0)


# ----------------------------------------------------------------------------- model specifics

def test_unet_small_size():
    assert 500_000 <= count_parameters(create_model("unet_small")) <= 1_200_000


def test_efficientnet_loads_imagenet_weights(small_models):
    model = small_models["efficientnet_lite0_unet"]
    state = torch.load(lite0_weights_path(), map_location="cpu", weights_only=True)
    assert torch.equal(model.encoder.conv_stem.weight, state["_conv_stem.weight"])
    assert torch.equal(model.encoder.blocks[15]._project_conv.weight, state["_blocks.15._project_conv.weight"])
    assert torch.equal(model.encoder.bn0.weight, state["_bn0.weight"])  # running stats move in train-mode tests
    scratch = create_model("efficientnet_lite0_unet", pretrained=False)
    assert not torch.equal(scratch.encoder.conv_stem.weight, state["_conv_stem.weight"])


def test_efficientnet_encoder_strides(small_models):
    encoder = small_models["efficientnet_lite0_unet"].encoder.eval()
    assert encoder.channels == [16, 24, 40, 112, 320]
    with torch.no_grad():
        feats = encoder(torch.rand(1, 3, 128, 96))
    assert [tuple(f.shape[1:]) for f in feats] == [(c, 128 // s, 96 // s) for c, s in
                                                   zip(encoder.channels, [2, 4, 8, 16, 32])]


def test_efficientnet_has_full_resolution_branch(small_models):
    model = small_models["efficientnet_lite0_unet"]
    convs = [m for m in model.fullres.modules() if isinstance(m, nn.Conv2d)]
    assert 2 <= len(convs) <= 3 and all(c.stride == (1, 1) for c in convs)


def test_deeplab_warns_when_weights_absent(deeplab_build):
    model, messages, expected = deeplab_build
    assert expected.name == DEEPLAB_FILE and expected.parent.name == "checkpoints"
    assert any(str(expected) in m for m in messages)
    assert model.classifier[4].out_channels == 1
    assert model.cls_head.fc.in_features == 2048


def test_deeplab_loads_coco_voc_state_dict(deeplab_build):
    """A torchvision-style checkpoint (21-class last conv, aux head) loads all but those parts."""
    model = deeplab_build[0]
    own = model.state_dict()
    conv1 = own["backbone.conv1.weight"].clone()
    last = own["classifier.4.weight"].clone()
    ckpt = dict(own)
    ckpt["backbone.conv1.weight"] = conv1 + 1.0
    ckpt["classifier.4.weight"] = torch.zeros(21, 256, 1, 1)
    ckpt["classifier.4.bias"] = torch.zeros(21)
    ckpt["aux_classifier.4.weight"] = torch.zeros(21, 256, 1, 1)
    ckpt = {k: v for k, v in ckpt.items() if not k.startswith("cls_head.")}
    try:
        load_coco_voc_state_dict(model, ckpt)
        assert torch.equal(model.backbone.conv1.weight, conv1 + 1.0)
        assert torch.equal(model.classifier[4].weight, last)
        del ckpt["backbone.layer4.2.conv3.weight"]
        with pytest.raises(RuntimeError, match="layer4"):
            load_coco_voc_state_dict(model, ckpt)
    finally:
        with torch.no_grad():
            model.backbone.conv1.weight.copy_(conv1)


def test_models_do_not_import_pipeline_modules_or_touch_devices():
    for path in MODELS_DIR.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                module = "." * node.level + (node.module or "")
                assert not any(p in module for p in ("data", "train", "evaluate")), (path, module)
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith("fklib.") and not a.name.startswith("fklib.models")
                               for a in node.names), path
            elif isinstance(node, ast.Attribute):
                assert node.attr != "cuda", f"{path}: .cuda() in a model file"


def test_property_head_is_optional_and_shaped():
    from fklib.models import create_model

    for name in ("unet_small", "efficientnet_lite0_unet"):
        kw = {"base": 4} if name == "unet_small" else {"pretrained": False}
        plain = create_model(name, **kw).eval()
        assert plain(torch.rand(2, 3, 64, 64)).property_logits is None
        multi = create_model(name, num_properties=16, **kw).eval()
        out = multi(torch.rand(2, 3, 64, 64))
        assert out.property_logits.shape == (2, 16) and out.logit.shape == (2,)


def test_fold_batchnorm_keeps_outputs_and_removes_every_bn():
    from fklib.models import create_model
    from fklib.models.fuse import fold_batchnorm

    torch.manual_seed(0)
    dffd = ("dffd_xception", {"width": 0.125, "middle_blocks": 2, "input_size": 64})  # the Table-2 baseline
    for name, kw in (("unet_small", {"base": 4}), ("efficientnet_lite0_unet", {"pretrained": False}), dffd):
        model = create_model(name, **kw)
        model.train()
        with torch.no_grad():                      # non-trivial running statistics
            for _ in range(3):
                model(torch.rand(4, 3, 64, 64))
        model.eval()
        folded = fold_batchnorm(model, torch.rand(1, 3, 64, 64))
        assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
        assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())   # original untouched
        x = torch.rand(3, 3, 64, 64)
        with torch.no_grad():
            a, b = model(x), folded(x)
        torch.testing.assert_close(b.map, a.map, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(b.logit, a.logit, atol=1e-4, rtol=1e-4)


def test_registry_knows_constructor_arguments():
    from fklib.models.registry import accepts

    assert accepts("efficientnet_lite0_unet", "pretrained") and accepts("deeplabv3_resnet101", "pretrained")
    assert not accepts("unet_small", "pretrained") and not accepts("no_such_model", "pretrained")


def test_map_prior_sets_the_initial_map_level():
    import math

    import pytest

    from fklib.models import create_model

    m = create_model("efficientnet_lite0_unet", pretrained=False, map_prior=0.05)
    assert float(m.final.bias) == pytest.approx(math.log(0.05 / 0.95), abs=1e-6)
    with pytest.raises(ValueError, match="map_prior"):
        create_model("efficientnet_lite0_unet", pretrained=False, map_prior=1.0)


def test_srm_filters_are_the_published_kernels():
    from fklib.models import SRMFilters

    srm = SRMFilters()
    flat = torch.full((1, 3, 12, 12), 0.4)
    assert srm(flat)[..., 2:-2, 2:-2].abs().max() < 1e-6                  # residuals of a flat image vanish
    x = torch.zeros(1, 3, 11, 11)
    x[0, 1, 5, 5] = 1.0                                                    # an impulse in the green channel
    out = srm(x)
    assert out.shape == (1, 9, 11, 11) and out[0, :3].abs().max() == 0 and out[0, 6:].abs().max() == 0
    # the response to an impulse is the (flipped) kernel itself, divided by its scale
    third = torch.tensor([[0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 1, -2, 1, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]]) / 2
    torch.testing.assert_close(out[0, 5, 3:8, 3:8], third.float().flip(0, 1))
    assert out[0, 4, 5, 5] == pytest.approx(-12 / 12)


@pytest.mark.parametrize("name, deep", [("efficientnet_lite1_unet", 320), ("efficientnet_lite2_unet", 352)])
def test_larger_lite_encoders_load_their_imagenet_weights(name, deep):
    from fklib.models import create_model, lite_weights_path

    model = create_model(name)
    variant = int(name[len("efficientnet_lite")])
    state = torch.load(lite_weights_path(variant), map_location="cpu", weights_only=True)
    torch.testing.assert_close(model.encoder.conv_stem.weight, state["_conv_stem.weight"])
    assert model.encoder.channels[-1] == deep
    out = model.eval()(torch.rand(1, 3, 64, 64))
    assert out.map.shape == (1, 1, 64, 64) and out.logit.shape == (1,)


def test_the_noise_stream_feeds_the_decoder():
    from fklib.models import create_model

    plain = create_model("efficientnet_lite0_unet", pretrained=False)
    hf = create_model("efficientnet_lite0_unet", pretrained=False, hf="srm")
    assert hf.noise is not None and plain.noise is None
    assert hf.fuse[0].in_channels == plain.fuse[0].in_channels + 16
    x = torch.rand(2, 3, 64, 64, requires_grad=False)
    out = hf.eval()(x)
    out.map.sum().backward()
    assert hf.noise.s4[0][0].weight.grad.abs().sum() > 0                    # every stage reaches the map
    with pytest.raises(ValueError, match="hf"):
        create_model("efficientnet_lite0_unet", pretrained=False, hf="dct")


def test_noise_stream_without_a_full_resolution_stage():
    from fklib.models import create_model

    fast = create_model("efficientnet_lite0_unet", pretrained=False, hf="srm", hf_channels=[0, 16, 24],
                        fullres_channels=8, decoder_channels=[96, 48, 32, 16, 8], fuse_kernel=1)
    assert fast.noise.s1 is None and fast.noise.s2[0][0].in_channels == 9  # reads the residuals at stride 2
    f1, f2, f4 = fast.noise(torch.rand(2, 3, 64, 64))
    assert f1 is None and f2.shape == (2, 16, 32, 32) and f4.shape == (2, 24, 16, 16)
    assert fast.fuse[0].kernel_size == (1, 1) and fast.fuse[0].in_channels == 8 + 8  # no noise at stride 1
    out = fast.eval()(torch.rand(2, 3, 64, 64))
    assert out.map.shape == (2, 1, 64, 64)
    with pytest.raises(ValueError, match="fuse_kernel"):
        create_model("efficientnet_lite0_unet", pretrained=False, fuse_kernel=5)


def test_hybrid_map_mixes_texture_and_layout_by_the_gate():
    """map = (1 - g) * texture + g * sum_k softmax(property)_k * prior_k, checked at both ends of the gate
    against the texture-only network with the same weights and against the layout computed by hand."""
    from fklib.models import create_model

    torch.manual_seed(0)
    kw = dict(pretrained=False, num_properties=3, hf="srm", hf_channels=[0, 8, 8])
    hybrid = create_model("efficientnet_lite0_unet", hybrid=True, prior_size=16, **kw).eval()
    plain = create_model("efficientnet_lite0_unet", **kw).eval()
    plain.load_state_dict({k: v for k, v in hybrid.state_dict().items() if k in plain.state_dict()})
    priors = torch.rand(3, 1, 16, 16)
    hybrid.prior_maps.copy_(priors)
    assert "prior_maps" in hybrid.state_dict()  # saved with the weights
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        hybrid.gate.weight.zero_()
        hybrid.gate.bias.fill_(-30.0)  # g = 0: the texture map alone
        torch.testing.assert_close(hybrid(x).map, plain(x).map)
        hybrid.gate.bias.fill_(30.0)  # g = 1: the layout of the recognised property alone
        out = hybrid(x)
        p = out.property_logits.softmax(1)
        up = torch.nn.functional.interpolate(priors, size=(64, 64), mode="bilinear", align_corners=False)
        by_hand = sum(p[:, k, None, None, None] * up[k][None] for k in range(3))
        torch.testing.assert_close(out.map, by_hand)
        hybrid.gate.bias.fill_(0.0)  # g = 1/2: the mean of the two
        torch.testing.assert_close(hybrid(x).map, (plain(x).map + by_hand) / 2)
        torch.testing.assert_close(hybrid(x).texture, plain(x).map)  # the texture map, for its own loss
    fresh = create_model("efficientnet_lite0_unet", hybrid=True, **kw)
    assert torch.sigmoid(fresh.gate.bias).item() == pytest.approx(0.1192, abs=1e-4)  # starts texture-led
    y = fresh.train()(x)
    y.map.sum().backward()
    assert fresh.property_head.fc.weight.grad is None or fresh.property_head.fc.weight.grad.abs().sum() == 0
    with pytest.raises(ValueError, match="num_properties"):
        create_model("efficientnet_lite0_unet", pretrained=False, hybrid=True)
