"""The latency table's parts and its cache file (moved whole from test_latency.py)."""

from __future__ import annotations

import json
import re

import pytest
import torch

from objectives.latency import LatencySetup
from objectives.latency_file import TABLE_VERSION
from objectives.latency_table import LatencyTable, Part, arch_parts
from search_space import Arch, SpecError, Stage, build_model, load_space

TOY = Arch(stages=(Stage("mbconv", 1, 3, 1, 8, 1, 0.25, "id"),
                   Stage("mbconv", 6, 5, 2, 16, 1, 0.0, "id")),
           stem=8, head=32, resolution=16, act="relu", dropout=0.0, drop_path=0.0)


def test_parts_are_the_builders_modules_with_their_inputs():
    model = build_model(TOY).eval()
    x = torch.randn(1, 3, TOY.resolution, TOY.resolution)
    built = [model.stem, *model.blocks]
    with torch.no_grad():
        for part, module in zip(arch_parts(TOY), built):
            assert tuple(x.shape[1:]) == part.shape
            mine = part.module()
            assert type(mine) is type(module)
            assert [p.shape for p in mine.parameters()] == [p.shape for p in module.parameters()]
            x = module(x)
        head = arch_parts(TOY)[-1]
        assert tuple(x.shape[1:]) == head.shape
        assert head.module().eval()(x).shape == model.forward_head(model.head(x)).shape


def test_part_keys_tell_blocks_apart():
    a = Part("block", 16, 16, 8, "relu", Stage("mbconv", 6, 3, 1, 16, 1, 0.0, "id"))
    b = Part("block", 16, 16, 8, "relu", Stage("mbconv", 6, 3, 1, 16, 1, 0.0, "none"))
    c = Part("block", 8, 16, 8, "relu", Stage("mbconv", 6, 3, 1, 16, 1, 0.0, "id"))
    assert len({a.key, b.key, c.key}) == 3
    assert "noskip" in c.key  # in != out: no residual whatever `skip` says


def test_small_image_skeleton_parts_keep_the_stem_stride():
    small = load_space("b0-small").reference  # stride-1 stem: blocks start at full size
    parts = arch_parts(small)
    assert parts[0].key.endswith("|s1") and parts[1].size == small.resolution
    assert parts[0].module()(torch.randn(1, *parts[0].shape)).shape[-1] == small.resolution


def test_a_foreign_cache_file_is_re_timed_not_a_traceback(tmp_path):
    table = LatencyTable(LatencySetup(), tmp_path)
    table.path.write_text("[1, 2]")
    assert LatencyTable(LatencySetup(), tmp_path).entries == {}
    # the right file, damaged: a NaN scale or a negative time is refused, naming file and key
    for parts, scales, key in (({"p": 1.0}, {"k": "nan"}, "scales['k']"),
                               ({"p": -1.0}, {}, "parts['p']")):
        table.path.write_text(json.dumps({"version": TABLE_VERSION, "parts": parts,
                                          "fingerprint": table.fingerprint, "scales": scales}))
        with pytest.raises(SpecError, match=re.escape(f"{table.path}: {key} = ")):
            LatencyTable(LatencySetup(), tmp_path)
