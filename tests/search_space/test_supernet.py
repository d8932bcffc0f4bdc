"""The supernet holds every candidate: a subnet has the candidate's exact params and outputs."""

import numpy as np
import pytest
import torch

from objectives import count_params
from search_space import Supernet, load_space, preset
from search_space.bundled import space_names
from search_space.errors import SpecError

SAMPLES = 50
CLASSES = 10


def _randomize_bn(net: torch.nn.Module) -> None:
    """Non-trivial BN statistics and affine terms, so slicing them wrongly shows."""
    gen = torch.Generator().manual_seed(1)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            for t, (lo, hi) in ((m.running_mean, (-0.2, 0.2)), (m.running_var, (0.5, 1.5)),
                                (m.weight.data, (0.5, 1.5)), (m.bias.data, (-0.2, 0.2))):
                t.copy_(torch.rand(t.shape, generator=gen) * (hi - lo) + lo)


@pytest.mark.slow  # seconds of compute, no Ray: out of the quick loop
@pytest.mark.parametrize("name", space_names())
def test_subnets_match_params_and_outputs(name):
    space = load_space(name)
    torch.manual_seed(0)
    supernet = Supernet(space, num_classes=CLASSES).eval()
    _randomize_bn(supernet)
    rng = np.random.default_rng(0)
    x = torch.randn(2, 3, 32, 32)
    for _ in range(SAMPLES):
        arch = space.sample(rng)
        subnet = supernet.subnet(arch).eval()
        assert sum(p.numel() for p in subnet.parameters()) == count_params(arch, CLASSES)
        with torch.no_grad():
            diff = (subnet(x) - supernet(x, arch)).abs().max().item()
        assert diff <= 1e-5, (arch.name, diff)


def test_b0_supernet_contains_efficientnet_b0():
    b0 = preset("efficientnet-b0")
    subnet = Supernet(load_space("b0"), num_classes=1000).subnet(b0)
    assert sum(p.numel() for p in subnet.parameters()) == 5_288_548


def test_training_a_path_updates_only_its_slices():
    space = load_space("mnasnet")
    supernet = Supernet(space, num_classes=CLASSES).train()
    arch = space.sample(np.random.default_rng(3))
    supernet(torch.randn(4, 3, 32, 32), arch).sum().backward()
    used = {n for n, p in supernet.named_parameters() if p.grad is not None}
    assert used and len(used) < len(list(supernet.parameters()))
    assert supernet.stem.bn.num_batches_tracked.item() == 1


def test_arch_outside_the_space_is_refused():
    supernet = Supernet(load_space("mnasnet"), num_classes=CLASSES)
    with pytest.raises(SpecError):
        supernet(torch.randn(2, 3, 32, 32), preset("efficientnet-b0"))
