"""Run Madoguchi's benchmarks and print each figure beside its baseline and their ratio.

    make bench                                   # everything
    make bench BENCH_ARGS="forms_validation"     # one module
    make bench BENCH_ARGS="--rounds 3"           # quicker, noisier
    BENCH_QUICK=1 make bench                     # smaller volumes (exports 20,000, inbox 100,000)

Each other ``bench/*.py`` not starting with ``_`` is a benchmark module with ``TITLE`` (one
line), ``run(settings) -> list[Result]`` and optionally ``NOTES`` (lines printed under its
rows). A module asserts that what it times succeeded, so a broken benchmark fails loudly
instead of timing an error path. Speed is never a pass/fail threshold here: compare the
ratios between runs (see DESIGN.md, "Tests and measurements").
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from types import ModuleType

from _harness import Result, Settings, duration

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "madoguchi.conf.settings")
    os.environ.setdefault("MADOGUCHI_DATA_DIR", str(ROOT / "var" / "bench"))
    import django

    django.setup()


def _modules() -> list[str]:
    return sorted(
        path.stem
        for path in HERE.glob("*.py")
        if path.stem != "run" and not path.stem.startswith("_")
    )


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _header(settings: Settings) -> list[str]:
    import django

    cores = os.cpu_count() or 0
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    cores_text = f"{cores} cores" + (f" ({usable} usable)" if usable != cores else "")
    now = datetime.now().astimezone()
    load = f", load average {os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else ""
    return [
        f"Madoguchi benchmarks — {now:%Y-%m-%d %H:%M %Z}",
        f"machine: {platform.system()} {platform.machine()}, {cores_text}, {_cpu_model()}{load}",
        f"Python {platform.python_version()} ({platform.python_implementation()}), "
        f"Django {django.get_version()}",
        f"method: warm-up, then {settings.rounds} rounds alternating figure and baseline, "
        "garbage collector paused, each call timed; median and p95 per call; "
        "ratio = median / baseline median",
    ]


def _table(module: ModuleType, results: list[Result]) -> list[str]:
    if not results:  # skipped (e.g. inbox without PostgreSQL): its notes say why
        return [
            f"{module.__name__} — {module.TITLE}",
            *(f"  {n}" for n in getattr(module, "NOTES", ())),
        ]
    rows = [("", "median", "p95", "baseline", "median", "p95", "ratio")]
    for result in results:
        base = result.baseline
        rows.append(
            (
                result.name,
                duration(result.figure.median),
                duration(result.figure.p95),
                result.baseline_name if base else "—",
                duration(base.median) if base else "",
                duration(base.p95) if base else "",
                f"{result.ratio:.2f}×" if result.ratio is not None else "",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [f"{module.__name__} — {module.TITLE}"]
    for row in rows:
        cells = [
            cell.ljust(width) if i in (0, 3) else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  " + "  ".join(cells).rstrip())
    steadiness = max(
        max(r.figure.spread, r.baseline.spread if r.baseline else 1.0) for r in results
    )
    calls = ", ".join(
        f"{r.figure.calls}" + (f"/{r.baseline.calls}" if r.baseline else "") for r in results
    )
    lines.append(
        f"  calls timed (figure/baseline): {calls}; "
        f"slowest round median / fastest: {steadiness:.2f}"
    )
    lines.extend(f"  {note}" for note in getattr(module, "NOTES", ()))
    return lines


def _say(*lines: str) -> None:
    print("\n".join(lines), flush=True)  # noqa: T201  (printing the table is the point)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help=f"modules to run (default: {_modules()})")
    parser.add_argument("--rounds", type=int, default=Settings.rounds)
    parser.add_argument("--round-seconds", type=float, default=Settings.round_seconds)
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)
    # A short name runs the modules it begins (``lottery`` runs ``lottery_draw``).
    args.modules = [
        name
        for asked in args.modules
        for name in (
            [asked] if asked in _modules() else [m for m in _modules() if m.startswith(asked)]
        )
        or [asked]
    ]
    unknown = sorted(set(args.modules) - set(_modules()))
    if unknown:
        parser.error(f"unknown benchmark module(s): {', '.join(unknown)}")

    _setup_django()
    settings = Settings(rounds=args.rounds, round_seconds=args.round_seconds)
    header = _header(settings)
    _say(*header)
    modules: dict[str, list[dict[str, object]]] = {}
    for name in args.modules or _modules():
        module = importlib.import_module(name)
        results: list[Result] = module.run(settings)
        _say("", *_table(module, results))
        modules[name] = [asdict(r) | {"ratio": r.ratio} for r in results]
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        report = {"header": header, "modules": modules}
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
