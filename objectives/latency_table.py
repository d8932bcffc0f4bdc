"""Per-block latency lookup table: time each distinct block once, predict archs as sums.

A network built by `search_space.build_model` is stem -> blocks -> head (1x1 conv, global mean,
dropout, classifier), run one after the other, so its latency is close to the sum of its parts'
(nn-Meter's kernel-level idea, at the coarser block level). A part is keyed by everything that
changes its cost: for a block its op (block, expansion), kernel, SE ratio, whether it has a
residual, in/out channels, stride, input side and activation; the stem and head by their
channels and input side. Each part is timed on exactly the module the builder makes (taken out
of a built model), with an input of the shape it sees inside the network.

The table lives on disk as JSON (never pickle) in one file per environment: the file name is a
hash of the `fingerprint`, so another device, thread count, batch, torch version or backend
gets a fresh table instead of wrong numbers (`objectives.latency_file` reads and writes it).

Cold weights: timed alone and called again and again, a block finds its weights in the CPU's
cache; inside a network the other blocks have evicted them since its last call. So a part runs
as `Rotation`, several copies of it called in turn (at least `COLD_BYTES` of weights, at most
`MAX_COPIES` copies), and its time is the rotation's divided by the number of copies.

Sweeps: a burst of other work while one part is timed inflates it, and every arch holding that
part inherits the error. So the table times all its parts once, then all of them again
(`LatencySetup.sweeps`), and keeps each part's fastest: a burst rarely hits one part twice.

Calibration: what is left between the sum and the whole network (allocations, the hand-over
between blocks, the machine's state at the time) is mostly one factor for every net of a
skeleton: on this project's CPU at 224 px the median error of plain sums was -18% to +12%,
steady within a run, moving between runs. `LatencyTable.calibrate` times a few whole networks
end to end and stores, per skeleton (input side, stem and stage strides), the median ratio
measured / sum; predictions are the sum times that scale.

Whole networks are timed in sweeps too (`objectives.latency.measure_archs`, the one standard
`nas-search latency ARCH` and the benchmarks use as well): every arch once, then every arch
again, each keeping its fastest, so that calibration and `validate` hold their end of the
comparison to the same standard as the parts.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from objectives.latency import (
    Latency,
    LatencySetup,
    Timer,
    fingerprint,
    measure_archs,
    measure_module,
)
from objectives.latency_file import (
    check_table_path,
    default_cache_dir,
    read_table,
    write_table,
)
from search_space import Arch, SearchSpace, build_model, layers
from search_space.arch import Stage
from search_space.space_file import op_fields

CALIBRATION_ARCHS = 10  # whole networks timed per skeleton to scale the sums
COLD_BYTES = 8 << 20  # weights cycled through per part: well above a core's L2
MAX_COPIES = 16


def _conv_out(size: int, kernel: int, stride: int) -> int:
    # ConvBnAct pads kernel // 2 on both sides
    return (size + 2 * (kernel // 2) - kernel) // stride + 1


class Tail(nn.Module):
    """The head conv and everything after it, as `EfficientNet.forward` runs them."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.forward_head(self.model.head(x))


class Rotation(nn.Module):
    """Copies of one part called in turn on the same input (see "Cold weights" above)."""

    def __init__(self, module: nn.Module, copies: int):
        super().__init__()
        self.parts = nn.ModuleList([module, *(copy.deepcopy(module) for _ in range(copies - 1))])

    def forward(self, x: torch.Tensor) -> None:
        for part in self.parts:
            part(x)


def cold_copies(module: nn.Module, setup: LatencySetup) -> int:
    """How many copies make `module`'s weights cold (1 for onnxruntime: it times one graph)."""
    if setup.backend != "torch":
        return 1
    weight_bytes = sum(p.numel() * p.element_size() for p in module.parameters())
    return max(1, min(MAX_COPIES, -(-COLD_BYTES // max(1, weight_bytes))))


@dataclass(frozen=True)
class Part:
    """One timed piece of a network: the stem, one block (a `Stage` row with one layer) or the
    head, with its input channels and side. Plain data; `module()` builds it."""

    kind: str  # stem | block | head
    in_chs: int
    out_chs: int
    size: int  # input side in px
    act: str
    stage: Stage | None = None  # block: its row, repeats 1, stride = this layer's
    num_classes: int = 0  # head
    stem_stride: int = 2  # stem

    @property
    def key(self) -> str:
        base = f"{self.kind}|{self.in_chs}>{self.out_chs}|{self.size}px|{self.act}"
        if self.kind == "head":
            return f"{base}|{self.num_classes}cls"
        if self.kind == "stem":
            return f"{base}|s{self.stem_stride}"
        s = self.stage
        skip = s.skip == "id" and s.stride == 1 and self.in_chs == s.out
        return (f"{base}|{s.block}|e{s.expand}|k{s.kernel}|s{s.stride}|se{s.se:g}|"
                f"{'skip' if skip else 'noskip'}")

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.in_chs, self.size, self.size

    def module(self) -> nn.Module:
        """The module `build_model` makes for this part (taken out of a one-stage network)."""
        stage = self.stage or Stage(out=self.in_chs, expand=1)
        if self.kind == "stem":
            stage = Stage(out=8, expand=1)
        arch = Arch(stages=(stage,), stem=self.out_chs if self.kind == "stem" else self.in_chs,
                    head=self.out_chs if self.kind == "head" else 8,
                    resolution=max(8, self.size), act=self.act, dropout=0.0, drop_path=0.0,
                    stem_stride=self.stem_stride)
        model = build_model(arch, max(1, self.num_classes))
        return {"stem": model.stem, "block": model.blocks[0]}.get(self.kind) or Tail(model)


def arch_parts(arch: Arch, resolution: int | None = None, num_classes: int = 1000
               ) -> list[Part]:
    """`arch`'s parts in network order: stem, one per layer, head."""
    size = arch.resolution if resolution is None else resolution
    out = [Part("stem", 3, arch.stem, size, arch.act, stem_stride=arch.stem_stride)]
    size = _conv_out(size, 3, arch.stem_stride)
    for layer in layers(arch):
        stage = replace(layer.stage, stride=layer.stride, repeats=1)
        out.append(Part("block", layer.in_chs, stage.out, size, arch.act, stage))
        size = _conv_out(size, stage.kernel, layer.stride)
    last = arch.stages[-1].out
    out.append(Part("head", last, arch.head, size, arch.act, num_classes=num_classes))
    return out


def space_parts(space: SearchSpace, resolution: int | None = None, num_classes: int = 1000
                ) -> list[Part]:
    """Every distinct part an arch of `space` can have.

    The skeleton fixes each stage's stride and so its input side; a block then varies with its
    stage's op, kernel, SE, skip and width and, for a stage's first layer, the previous stage's
    width (the stem's for stage 1).
    """
    ref = space.reference
    per_stage = len(space.decisions) // len(ref.stages)
    size = ref.resolution if resolution is None else resolution
    found = {p.key: p for p in [Part("stem", 3, ref.stem, size, ref.act,
                                     stem_stride=ref.stem_stride)]}
    size, widths = _conv_out(size, 3, ref.stem_stride), (ref.stem,)
    for i, row in enumerate(ref.stages):
        ops, kernels, ses, skips, outs, repeats = (
            d.choices for d in space.decisions[i * per_stage:(i + 1) * per_stage])
        next_size = _conv_out(size, 3, row.stride)  # odd kernels pad k // 2: same side
        for op, kernel, se, skip, out in itertools.product(ops, kernels, ses, skips, outs):
            block, expand = op_fields(op)
            first = Stage(block, expand, kernel, row.stride, out, 1, se, skip)
            for in_chs in widths:
                part = Part("block", in_chs, out, size, ref.act, first)
                found.setdefault(part.key, part)
            if max(repeats) > 1:
                part = Part("block", out, out, next_size, ref.act,
                            replace(first, stride=1))
                found.setdefault(part.key, part)
        size, widths = next_size, tuple(outs)
    for last in widths:
        part = Part("head", last, ref.head, size, ref.act, num_classes=num_classes)
        found.setdefault(part.key, part)
    return list(found.values())


def time_part(part: Part, setup: LatencySetup, timer: Timer = measure_module) -> Latency:
    """One timing of `part` with cold weights (see the module docstring), per copy."""
    module = part.module()
    k = cold_copies(module, setup)
    warm = replace(setup, warmup=-(-setup.warmup // k))  # the same warm-up calls per copy
    result = timer(Rotation(module, k), (setup.batch, *part.shape), warm)
    return replace(result, median_ms=result.median_ms / k, p90_ms=result.p90_ms / k,
                   min_ms=result.min_ms / k)


class LatencyTable:
    """Milliseconds per part under one `LatencySetup`, filled on demand, cached on disk.

    Args:
        setup: where and how parts are timed (its fingerprint names the cache file).
        cache_dir: folder of the JSON tables (default `default_cache_dir()`); None with
            `persist=False` keeps the table in memory only.
        resolution: input side for every arch (default: each arch's own).
        num_classes: classifier outputs of the head part.
        timer: times one module (default `measure_module`); tests count its calls.
    """

    def __init__(self, setup: LatencySetup, cache_dir: str | Path | None = None,
                 resolution: int | None = None, num_classes: int = 1000,
                 timer: Timer = measure_module, persist: bool = True):
        self.setup, self.resolution, self.num_classes = setup, resolution, num_classes
        self.timer = timer
        self.fingerprint = fingerprint(setup)
        digest = hashlib.sha256(json.dumps(self.fingerprint, sort_keys=True).encode())
        self.path = (Path(cache_dir or default_cache_dir()) / f"{digest.hexdigest()[:16]}.json"
                     if persist else None)
        if self.path is not None:
            check_table_path(self.path)  # before minutes of timing, not at the save after
        self.entries: dict[str, float] = {}
        self.scales: dict[str, float] = {}  # skeleton -> measured / sum (see `calibrate`)
        self._load()

    def _load(self) -> None:
        if self.path is not None:
            self.entries, self.scales = read_table(self.path, self.fingerprint)

    def save(self) -> None:
        """Write the table to its file (atomically), if it has one."""
        if self.path is not None:
            write_table(self.path, self.fingerprint, (self.entries, self.scales))

    def missing(self, parts: Iterable[Part]) -> list[Part]:
        """The distinct `parts` the table has no time for yet."""
        todo: dict[str, Part] = {}
        for part in parts:
            if part.key not in self.entries:
                todo.setdefault(part.key, part)
        return list(todo.values())

    def fill(self, parts: Iterable[Part], progress: Callable[[int, int], None] | None = None
             ) -> int:
        """Time every part not in the table yet, in `setup.sweeps` sweeps over all of them,
        keeping each part's fastest; save; return how many were timed."""
        todo = self.missing(parts)
        total = len(todo) * self.setup.sweeps
        for done, (sweep, part) in enumerate(itertools.product(range(self.setup.sweeps), todo), 1):
            ms = time_part(part, self.setup, self.timer).ms
            self.entries[part.key] = min(ms, self.entries[part.key]) if sweep else ms
            if progress:
                progress(done, total)
            if done % 50 == 0:
                self.save()  # a long build keeps what it has if interrupted
        if todo:
            self.save()
        return len(todo)

    def parts(self, arch: Arch) -> list[Part]:
        return arch_parts(arch, self.resolution, self.num_classes)

    def skeleton(self, arch: Arch) -> str:
        """What a calibration scale applies to: input side, stem and stage strides."""
        size = arch.resolution if self.resolution is None else self.resolution
        strides = ",".join(str(s.stride) for s in arch.stages)
        return f"{size}px|s{arch.stem_stride}|{strides}|{arch.act}|{self.num_classes}cls"

    def measure(self, archs: list[Arch], progress: Callable[[int, int], None] | None = None
                ) -> list[float]:
        """End-to-end ms of each of `archs`, with the table's timer, setup and sweeps."""
        return [r.ms for r in measure_archs(archs, self.setup, self.resolution,
                                            self.num_classes, self.timer, progress)]

    def calibrate(self, archs: Iterable[Arch],
                  progress: Callable[[int, int], None] | None = None) -> dict[str, float]:
        """Time `archs` end to end (`measure`, reporting `progress(done, total)` over their
        timings) and store, per skeleton, the median ratio measured / sum of parts; returns the
        scales set."""
        archs = list(archs)
        self.fill([p for arch in archs for p in self.parts(arch)])
        ratios: dict[str, list[float]] = defaultdict(list)
        for arch, measured in zip(archs, self.measure(archs, progress)):
            total = sum(self.entries[p.key] for p in self.parts(arch))
            ratios[self.skeleton(arch)].append(measured / total)
        found = {key: float(np.median(r)) for key, r in ratios.items()}
        self.scales.update(found)
        self.save()
        return found

    def predict(self, arch: Arch) -> float:
        """Predicted milliseconds per call of `arch`: the sum of its parts (timed if missing)
        times its skeleton's calibration scale (1 if not calibrated)."""
        self.fill(self.parts(arch))
        return self.lookup(arch)

    def lookup(self, arch: Arch) -> float | None:
        """Like `predict`, but never times: None when a part is missing."""
        keys = [p.key for p in self.parts(arch)]
        if any(k not in self.entries for k in keys):
            return None
        return self.scales.get(self.skeleton(arch), 1.0) * sum(self.entries[k] for k in keys)


@dataclass(frozen=True)
class Validation:
    """How well the table predicts end-to-end latency (nn-Meter's +-10% accuracy)."""

    n: int
    within_10pct: float  # fraction of archs predicted within +-10% of their measurement
    mean_abs_error_pct: float
    rows: tuple[tuple[str, float, float], ...]  # (arch name, predicted ms, measured ms)
    scales: dict[str, float]  # the table's calibration (skeleton -> scale) when predicting

    def to_dict(self) -> dict:
        return {"n": self.n, "within_10pct": self.within_10pct,
                "mean_abs_error_pct": self.mean_abs_error_pct, "scales": self.scales,
                "archs": [{"name": a, "predicted_ms": p, "measured_ms": m}
                          for a, p, m in self.rows]}


def calibration_archs(space: SearchSpace, seed: int = 0, n: int = CALIBRATION_ARCHS
                      ) -> list[Arch]:
    """The archs a table of `space` is calibrated on: seeded, apart from `validate`'s draws."""
    rng = np.random.default_rng([seed, 1])
    return [space.sample(rng) for _ in range(n)]


def validate(space: SearchSpace, n: int, table: LatencyTable, seed: int = 0,
             progress: Callable[[str, int, int], None] | None = None,
             calibrate: int = CALIBRATION_ARCHS) -> Validation:
    """Predict and measure `n` seeded samples of `space`; compare.

    The table is filled first (`progress("parts", done, total)`) and calibrated on `calibrate`
    other samples (0: as it is; `progress("calibration archs", ...)`), then the samples are
    timed end to end in sweeps (`measure_archs`; `progress("archs", done, total)`).
    """
    rng = np.random.default_rng(seed)
    archs = [space.sample(rng) for _ in range(n)]
    calib = calibration_archs(space, seed, calibrate)
    table.fill([p for arch in archs + calib for p in table.parts(arch)],
               progress and (lambda done, total: progress("parts", done, total)))
    if calib:
        table.calibrate(calib, progress and (
            lambda done, total: progress("calibration archs", done, total)))
    on_arch = progress and (lambda done, total: progress("archs", done, total))
    measured = table.measure(archs, on_arch)
    rows = [(a.name, table.lookup(a), ms) for a, ms in zip(archs, measured)]  # filled above
    errors = np.array([abs(p / m - 1) for _, p, m in rows])
    return Validation(n, float(np.mean(errors <= 0.10)), float(100 * errors.mean()),
                      tuple(rows), {k: table.scales[k] for k in {table.skeleton(a) for a in archs}
                                    if k in table.scales})
