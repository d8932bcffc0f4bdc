"""Builder conventions (TF/timm EfficientNet): residuals, SE width, drop path, dropout, acts."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from search_space import PRESETS, Arch, Stage, build_model, layers, preset
from search_space.blocks import ConvBlock, DropPath, MBConv

B0 = preset("efficientnet-b0")
A1 = preset("mnasnet-a1")

# Facts sheet §1, per block of B0 (stage 2 = our stages[0], ...): 1st / rest of each stage.
B0_SKIPS = [0, 0, 1, 0, 1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 1, 0]
B0_EXPANDED = [32, 96, 144, 144, 240, 240, 480, 480, 480, 672, 672, 672, 1152, 1152, 1152, 1152]
B0_SE_REDUCED = [8, 4, 6, 6, 10, 10, 20, 20, 20, 28, 28, 28, 48, 48, 48, 48]


@pytest.fixture(scope="module")
def b0() -> nn.Module:
    return build_model(B0).eval()


def test_b0_has_16_blocks_and_9_residuals(b0: nn.Module) -> None:
    assert len(b0.blocks) == 16
    assert [int(block.has_skip) for block in b0.blocks] == B0_SKIPS
    assert sum(block.has_skip for block in b0.blocks) == 9


@pytest.mark.parametrize("name", ["efficientnet-b3", "mnasnet-a1"])
def test_residual_only_when_stride_1_same_width_and_skip_id(name: str) -> None:
    arch = PRESETS[name]
    model = build_model(arch)
    for layer, block in zip(layers(arch), model.blocks, strict=True):
        expected = (layer.stride == 1 and layer.in_chs == layer.stage.out
                    and layer.stage.skip == "id")
        assert block.has_skip == expected, layer


def test_skip_none_turns_off_every_residual() -> None:
    arch = B0.replace(stages=tuple(dataclasses.replace(s, skip="none") for s in B0.stages))
    assert not any(block.has_skip for block in build_model(arch).blocks)


def test_a_residual_block_adds_its_input() -> None:
    block = MBConv(24, 24, kernel=3, stride=1, exp_ratio=6, se_ratio=0.25).eval()
    plain = MBConv(24, 24, kernel=3, stride=1, exp_ratio=6, se_ratio=0.25, skip=False).eval()
    for b in (block, plain):  # zero the projection's BN: the branch then outputs exactly 0
        nn.init.zeros_(b.conv_pwl[1].weight)
        nn.init.zeros_(b.conv_pwl[1].bias)
    x = torch.randn(2, 24, 8, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(block(x), x)
        assert torch.equal(plain(x), torch.zeros_like(x))


def test_expanded_and_se_widths_follow_the_facts_sheet(b0: nn.Module) -> None:
    assert [block.conv_dw[0].out_channels for block in b0.blocks] == B0_EXPANDED
    # SE is sized from the block *input* channels (TF, torchvision), not the expanded ones
    assert [block.se.conv_reduce.out_channels for block in b0.blocks] == B0_SE_REDUCED
    assert [block.se.conv_expand.out_channels for block in b0.blocks] == B0_EXPANDED
    assert isinstance(b0.blocks[0].conv_pw, nn.Identity)  # MBConv1: no expansion conv


def test_se_width_truncates_like_tf_and_is_at_least_1() -> None:
    # TF: max(1, int(block_input_filters * se_ratio)); torchvision: max(1, in // 4)
    arch = Arch(stages=(Stage(out=30, se=0.25), Stage(out=12, se=0.25)), stem=3, head=16)
    first, second = build_model(arch).blocks
    assert first.se.conv_reduce.out_channels == 1  # 3 * 0.25 = 0.75
    assert second.se.conv_reduce.out_channels == 7  # 30 * 0.25 = 7.5


def test_se_only_where_the_table_asks_for_it() -> None:
    model = build_model(A1)
    with_se = [not isinstance(block.se, nn.Identity) for block in model.blocks]
    expected = [layer.stage.se > 0 for layer in layers(A1)]
    assert with_se == expected and sum(with_se) == 3 + 2 + 3


def test_drop_path_grows_linearly_on_residual_blocks_only(b0: nn.Module) -> None:
    for i, block in enumerate(b0.blocks):
        if block.has_skip:
            assert isinstance(block.drop_path, DropPath)
            assert block.drop_path.rate == pytest.approx(0.2 * i / 16)
        else:
            assert isinstance(block.drop_path, nn.Identity)
    assert b0.blocks[14].drop_path.rate == pytest.approx(0.175)


def test_drop_path_drops_whole_samples_and_rescales_survivors() -> None:
    drop = DropPath(0.5)
    x = torch.ones(400, 2, 3, 3)
    torch.manual_seed(0)
    y = drop.train()(x)
    per_sample = y.flatten(1)
    assert set(per_sample.unique().tolist()) == {0.0, 2.0}
    assert (per_sample == per_sample[:, :1]).all()
    assert 0.4 < (per_sample[:, 0] == 0).float().mean() < 0.6
    assert torch.equal(drop.eval()(x), x)


def test_dropout_0_2_sits_before_the_classifier() -> None:
    model = build_model(B0.replace(head=4096))
    assert model.dropout.p == 0.2
    seen = []
    model.classifier.register_forward_pre_hook(lambda _, args: seen.append(args[0]))
    torch.manual_seed(0)
    x = torch.randn(2, 3, 32, 32)
    model.train()(x)
    with torch.no_grad():
        model.eval()(x)
    zeros_train, zeros_eval = ((features == 0).float().mean().item() for features in seen)
    assert 0.17 < zeros_train < 0.23
    assert zeros_eval == 0.0


@pytest.mark.parametrize(("name", "act", "other"), [("efficientnet-b0", nn.SiLU, nn.ReLU),
                                                    ("mnasnet-a1", nn.ReLU, nn.SiLU)])
def test_activation_everywhere_including_se(name: str, act: type, other: type) -> None:
    model = build_model(PRESETS[name])
    kinds = {type(m) for m in model.modules()}
    assert act in kinds and other not in kinds
    with_se = [b for b in model.blocks if not isinstance(b.se, nn.Identity)]
    assert all(isinstance(b.se.act, act) for b in with_se)


def test_stage_resolutions_at_64_px(b0: nn.Module) -> None:
    sizes = []
    hooks = [b.register_forward_hook(lambda m, i, o: sizes.append(o.shape[-1]))
             for b in (b0.stem, *b0.blocks)]
    with torch.no_grad():
        features = b0.forward_features(torch.zeros(1, 3, 64, 64))
    for hook in hooks:
        hook.remove()
    # 224 px gives 112 | 112 | 56 56 | 28 28 | 14 x3 | 14 x3 | 7 x4 | 7; 64 px is that / 3.5
    assert sizes == [32, 32, 16, 16, 8, 8, 4, 4, 4, 4, 4, 4, 2, 2, 2, 2, 2]
    assert features.shape == (1, 1280, 2, 2)


def test_conv_blocks_are_plain_convs() -> None:
    arch = Arch(stages=(Stage("conv", 1, 5, 2, 24, 2, 0.25, "id"),), stem=16, head=64)
    model = build_model(arch, num_classes=10)
    first, second = model.blocks
    assert isinstance(first, ConvBlock) and isinstance(second, ConvBlock)
    conv = first.conv[0]
    assert (conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.groups) == (
        16, 24, (5, 5), (2, 2), 1)
    assert first.se.conv_reduce.out_channels == 4  # from the block input: 16 * 0.25
    assert (first.has_skip, second.has_skip) == (False, True)
    assert model.classifier.out_features == 10
