"""A user `evaluate` hook for the runner's failure tests: real proxy training, real failures.

Decided by the candidate's first stage so the outcome is a pure function of the arch:
- kernel 3, no SE: raise (a trial that crashes);
- kernel 5, no SE: proxy-train with a learning rate that diverges (loss goes NaN);
- otherwise: normal proxy training.
"""

import dataclasses

from nas.trial import proxy_evaluate


def flaky(arch, proxy, report):
    first = arch.stages[0]
    if not first.se and first.kernel == 3:
        raise RuntimeError("injected failure for the test")
    if not first.se:
        proxy = dataclasses.replace(proxy, lr=1e8, warmup_epochs=0.0)
    return proxy_evaluate(arch, proxy, report)


def broken(arch, proxy, report):
    """Fails every trial for one shared reason, whatever the candidate."""
    raise RuntimeError("licence server unreachable")
