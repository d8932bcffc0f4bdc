"""A user `evaluate` hook for the runner's failure tests: real proxy training, real failures.

Decided by the candidate's first stage so the outcome is a pure function of the arch:
- kernel 3, no SE: raise (a trial that crashes);
- kernel 5, no SE: proxy-train with a learning rate that diverges (loss goes NaN);
- otherwise: normal proxy training.
"""

import dataclasses

from nas.engine.trial import proxy_evaluate


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


def _score(arch):
    """A deterministic stand-in accuracy in (0, 1), distinct for distinct block tables."""
    from objectives import analytic_params

    params = analytic_params(arch)
    return params / (params + 2e6)


def fidelity_monotone(arch, proxy, report):
    """Long (epochs > 1) scores are a monotone transform of short ones: tau must be 1."""
    score = _score(arch)
    return {"accuracy": score if proxy.epochs == 1 else score ** 2 + 0.1,
            "train_seconds": 0.01 * proxy.epochs}


def fidelity_reversed(arch, proxy, report):
    """Long scores reverse the short ranking: tau must be -1."""
    score = _score(arch)
    return {"accuracy": score if proxy.epochs == 1 else 1 - score,
            "train_seconds": 0.01 * proxy.epochs}


def seeded_score(arch, proxy, report):
    """Accuracy whose hundredths are the seed and thousandths the epochs (what a job trained)."""
    return {"accuracy": round(_score(arch), 1) + 0.01 * proxy.seed + 0.001 * proxy.epochs,
            "train_seconds": 0.01}
