"""Timing helpers shared by the benchmark modules.

Every benchmark reports a *figure* (the thing we care about) and, when there is one, a
*baseline* measured in the same run on the same machine, so that the ratio means something
on any computer: absolute times differ from laptop to CI runner, the ratio much less.

The method is timeit's: warm up, then several rounds with the garbage collector paused, each
call timed on its own so that the median and the 95th percentile per call can be reported.
The rounds of a figure and its baseline alternate, so a machine that slows down half-way
through slows both down alike.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    rounds: int = 7
    #: Wall-clock seconds one round of one function should take (at least ``min_calls`` calls).
    round_seconds: float = 0.4
    warmup_seconds: float = 0.2
    min_calls: int = 5


@dataclass(frozen=True)
class Timing:
    """Seconds per call over every call of every round."""

    median: float
    p95: float
    calls: int
    rounds: int
    #: Largest round median over smallest: how steady the machine was (1.00 = perfectly).
    spread: float


@dataclass(frozen=True)
class Result:
    name: str
    figure: Timing
    baseline: Timing | None = None
    baseline_name: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline is None:
            return None
        return self.figure.median / self.baseline.median


def _calibrate(func: Callable[[], object], settings: Settings) -> int:
    """Warm up ``func`` and return how many calls fill one round."""
    calls, started = 0, time.perf_counter()
    while True:
        func()
        calls += 1
        elapsed = time.perf_counter() - started
        if elapsed >= settings.warmup_seconds and calls >= 3:
            break
    per_call = elapsed / calls
    return max(settings.min_calls, round(settings.round_seconds / per_call))


def _round(func: Callable[[], object], calls: int, samples: list[float]) -> float:
    clock = time.perf_counter_ns
    local: list[int] = []
    gc.collect()
    gc.disable()
    try:
        for _ in range(calls):
            started = clock()
            func()
            local.append(clock() - started)
    finally:
        gc.enable()
    seconds = [ns / 1e9 for ns in local]
    samples.extend(seconds)
    return statistics.median(seconds)


def _timing(samples: list[float], round_medians: list[float]) -> Timing:
    p95 = statistics.quantiles(samples, n=20, method="inclusive")[18]
    return Timing(
        median=statistics.median(samples),
        p95=p95,
        calls=len(samples),
        rounds=len(round_medians),
        spread=max(round_medians) / min(round_medians),
    )


def measure(funcs: list[Callable[[], object]], settings: Settings | None = None) -> list[Timing]:
    """Time each function in ``funcs``, alternating their rounds."""
    settings = settings or Settings()
    calls = [_calibrate(func, settings) for func in funcs]
    samples: list[list[float]] = [[] for _ in funcs]
    medians: list[list[float]] = [[] for _ in funcs]
    for _ in range(settings.rounds):
        for index, func in enumerate(funcs):
            medians[index].append(_round(func, calls[index], samples[index]))
    return [_timing(s, m) for s, m in zip(samples, medians, strict=True)]


def compare(
    name: str,
    func: Callable[[], object],
    baseline: Callable[[], object] | None = None,
    baseline_name: str = "",
    settings: Settings | None = None,
) -> Result:
    """Measure ``func`` and, in the same rounds, its ``baseline``."""
    if baseline is None:
        (figure,) = measure([func], settings)
        return Result(name, figure)
    figure, base = measure([func, baseline], settings)
    return Result(name, figure, base, baseline_name)


def duration(seconds: float) -> str:
    """1.23 ms, 456 µs, 1.20 s: three significant figures, the unit that suits."""
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        value, unit = seconds * 1e3, "ms"
    else:
        value, unit = seconds * 1e6, "µs"
    digits = 2 if value < 10 else (1 if value < 100 else 0)
    return f"{value:.{digits}f} {unit}"
