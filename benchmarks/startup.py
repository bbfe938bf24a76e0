"""Start-up time of the package and the CLI, against the targets of issue 19.

Measures three commands, each run ``--runs`` times (10) in a fresh process after one warm-up run:

* ``llm-extract --help``: target 0.3 s of CPU (user + system, the process and its children);
* ``python -c "import llm_extract"``: target 0.3 s wall;
* ``llm-extract extract examples/choe_russia_trip.txt --strategy rules``: target 0.6 s wall, end to
  end (each run gets an empty result cache, so every run extracts);

and prints, for each, the median and range of wall and CPU time with met/missed, then the packages
whose imports cost most (``python -X importtime``: each module's own time, summed by top-level
package) and which of the heavy libraries (scipy, numpy, rich, jinja2, openai, instructor) the
command loaded at all.

    python benchmarks/startup.py [--runs 10] [--top 8]

Exit status 1 when a target is missed. Timings depend on the machine; the targets were set on a
busy two-core machine, where the eager imports of the time cost 3.2 s of CPU.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("scipy", "numpy", "rich", "jinja2", "openai", "instructor")
_IMPORT_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)")


@dataclass
class Case:
    """One command, its target and what was measured."""

    name: str
    argv: list[str]
    measure: str  # "cpu" or "wall": which one the target is for
    target_s: float
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    imports: list[tuple[str, float]] = field(default_factory=list)  # (package, seconds importing it)
    heavy: list[str] = field(default_factory=list)

    @property
    def measured(self) -> float:
        return statistics.median(self.cpu if self.measure == "cpu" else self.wall)

    @property
    def met(self) -> bool:
        return self.measured <= self.target_s


def _cli() -> list[str]:
    """The installed console script next to this interpreter, else the same entry point through -c."""
    script = Path(sys.executable).parent / "llm-extract"
    if script.is_file():
        return [str(script)]
    found = shutil.which("llm-extract")
    return [found] if found else [sys.executable, "-c", "from llm_extract.cli import run; run()"]


def cases() -> list[Case]:
    cli = _cli()
    article = str(ROOT / "examples" / "choe_russia_trip.txt")
    return [
        Case("llm-extract --help", [*cli, "--help"], "cpu", 0.3),
        Case('python -c "import llm_extract"', [sys.executable, "-c", "import llm_extract"], "wall", 0.3),
        Case(
            "llm-extract extract choe_russia_trip.txt --strategy rules",
            [*cli, "extract", article, "--strategy", "rules"],
            "wall",
            0.6,
        ),
    ]


def _run(argv: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run once: wall seconds, CPU seconds (user + system of the child), and its stderr."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stderr


def measure(case: Case, runs: int, top: int) -> None:
    with tempfile.TemporaryDirectory(prefix="llm-extract-startup-") as scratch:
        for i in range(runs + 1):
            env = {**os.environ, "LLM_EXTRACT_CACHE_DIR": str(Path(scratch) / f"cache-{i}")}
            wall, cpu, _ = _run(case.argv, env)
            if i:  # the first run warms the file system cache
                case.wall.append(wall)
                case.cpu.append(cpu)
        traced = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}
        _, _, stderr = _run(case.argv, {**traced, "LLM_EXTRACT_CACHE_DIR": str(Path(scratch) / "traced")})
    by_package: dict[str, float] = {}
    for line in stderr.splitlines():
        match = _IMPORT_LINE.match(line)
        if match is None:
            continue
        self_us, module = int(match[1]), match[4]
        package = module.split(".")[0]
        by_package[package] = by_package.get(package, 0.0) + self_us / 1e6
    case.imports = sorted(by_package.items(), key=lambda kv: -kv[1])[:top]
    case.heavy = [m for m in HEAVY if m in by_package]


def report(results: list[Case], runs: int) -> str:
    lines = [
        f"Start-up over {runs} runs each (after one warm-up), median [min-max], on {os.cpu_count()} CPU(s):",
        "",
        "| command | wall s | CPU s | target | result |",
        "|---|---:|---:|---:|---|",
    ]
    for c in results:
        wall = f"{statistics.median(c.wall):.3f} [{min(c.wall):.3f}-{max(c.wall):.3f}]"
        cpu = f"{statistics.median(c.cpu):.3f} [{min(c.cpu):.3f}-{max(c.cpu):.3f}]"
        target = f"<= {c.target_s:.1f} s {c.measure}"
        verdict = f"{'met' if c.met else 'MISSED'} ({c.measured:.3f} s)"
        lines.append(f"| `{c.name}` | {wall} | {cpu} | {target} | {verdict} |")
    for c in results:
        total = sum(seconds for _, seconds in c.imports)
        lines += ["", f"Imports of `{c.name}` (python -X importtime, self time summed by package):", ""]
        lines += [f"  {seconds * 1000:8.1f} ms  {package}" for package, seconds in c.imports]
        lines.append(f"  {total * 1000:8.1f} ms  (these {len(c.imports)})")
        lines.append(f"  heavy libraries loaded: {', '.join(c.heavy) or 'none'}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="timed runs per command (default 10)")
    parser.add_argument("--top", type=int, default=8, help="packages listed per command (default 8)")
    args = parser.parse_args()
    results = cases()
    for case in results:
        measure(case, args.runs, args.top)
    print(report(results, args.runs))
    return 0 if all(c.met for c in results) else 1


if __name__ == "__main__":
    sys.exit(main())
