"""Data-parallel supernet training on Ray Train: two gloo workers on CPU, DDP."""

from nas.engine.supernet_fit import fit_supernet
from objectives import ProxyConfig, SupernetConfig
from search_space import load_space

PROXY = ProxyConfig(resolution=16, batch_size=32, train_size=64, val_size=32, device="cpu")


def test_two_gloo_workers_train_and_checkpoint(ray_local, tmp_path):
    checkpoint = tmp_path / "supernet.pt"
    supernet = fit_supernet(load_space("b0"), PROXY, SupernetConfig(epochs=1, workers=2),
                            checkpoint)
    assert checkpoint.is_file()
    assert [h["epoch"] for h in supernet.history] == [1]
