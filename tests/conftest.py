"""Shared test setup. The test machines' few cores are shared, so torch uses one thread."""

import pytest
import torch

torch.set_num_threads(1)


def pytest_configure(config: pytest.Config) -> None:
    # fvcore traces with torch.jit, which warns about its own deprecation on every trace
    config.addinivalue_line("filterwarnings", "ignore:`torch.jit.script` is deprecated")


@pytest.fixture(scope="session")
def ray_local():
    """One local Ray on 127.0.0.1 for every in-process search test; stopped at the end."""
    from nas.engine.ray_session import ray_session

    with ray_session(None, num_cpus=2):
        yield
