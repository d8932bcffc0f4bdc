"""`evaluate` hooks for the confirmation's end-to-end tests: instant, and telling what ran.

The accuracy's hundredths are the proxy seed's last digit and its thousandths the epochs, so a
row shows which seed and recipe its trial trained with (confirming seeds are 1000 + i).
"""

import time


def seed_marked(arch, proxy, report):
    shape = sum(s.repeats * s.kernel + s.out for s in arch.stages)
    accuracy = 0.3 + (shape * 7 % 40) / 100 + 0.01 * (proxy.seed % 10) + 0.001 * proxy.epochs
    return {"status": "ok", "accuracy": accuracy, "epochs": proxy.epochs, "train_seconds": 0.01}


def slow_confirming(arch, proxy, report):
    """`seed_marked`, but a confirming training (seed >= 1000) takes 3 s: time to kill it."""
    if proxy.seed >= 1000:
        time.sleep(3)
    return seed_marked(arch, proxy, report)
