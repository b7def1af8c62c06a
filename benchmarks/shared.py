"""What every benchmark under ``benchmarks/`` shares: versions, the timer, the report.

Standard library only: the bench scripts import it inside the peers' environments, which
have no prodml. Each run.sh runs every script as a module from the repo root, so that
``benchmarks`` is importable with whichever interpreter runs it:

    python -m benchmarks.slices.bench_fairlearn
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

#: what docs/benchmarks.md starts with when a report script has to create it
HEADER = """# Benchmarks

prodml side by side with its peers, each peer in its own environment, on one machine. Each
section is written by a script under `benchmarks/` and names the machine and the command;
ratios are quoted from one run of that script.
"""

T = TypeVar("T")
#: "prodml" and the peer's name ("mlflow", "fairlearn") -> what that side's bench printed
Results = dict[str, dict[str, Any]]


def versions(*names: str) -> dict[str, str]:
    """Python's version and each named distribution's in this environment.

    >>> versions("no-such-distribution")["no-such-distribution"]
    'not installed'
    """
    found = {"python": sys.version.split()[0]}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def timed(call: Callable[[], T]) -> tuple[float, T]:
    """Wall seconds of ``call()``, and what it returned."""
    start = time.perf_counter()
    result = call()
    return time.perf_counter() - start, result


def peak_mib() -> float:
    """The peak resident memory of this process so far, in MiB (Linux: ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def replace_section(text: str, title: str, new: str) -> str:
    """``text`` with the section under ``title`` (up to the next ``## ``) replaced by ``new``.

    >>> replace_section("# B\\n\\n## A\\nold\\n\\n## C\\n", "## A", "## A\\nnew\\n")
    '# B\\n\\n## A\\nnew\\n\\n## C\\n'
    """
    start = text.find(f"\n{title}\n")
    if start < 0:
        return text.rstrip("\n") + "\n\n" + new
    end = text.find("\n## ", start + 1)
    return text[: start + 1] + new + ("" if end < 0 else text[end:])


def machine() -> str:
    """Cores, CPU, memory and OS of this machine, as every section names them."""
    cpu = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
    memory = re.search(r"^MemTotal:\s*(\d+) kB", Path("/proc/meminfo").read_text(), re.M)
    return (
        f"{len(os.sched_getaffinity(0))} cores (`nproc`), {cpu.group(1) if cpu else '?'}, "
        f"{int(memory.group(1)) / 2**20 if memory else 0:.0f} GiB memory, "
        f"{platform.system()} {platform.release()}"
    )


@dataclass(frozen=True)
class Report:
    """One section of docs/benchmarks.md: prodml against one peer, from two JSON results.

    The section is ``title``, ``intro``, the date, the machine and the command, then the
    lines ``body`` makes of the results (tables, findings). ``peer`` is the peer's key in
    the results and names its bench script (``bench_{peer}.py``); ``label`` is how the text
    names the peer; the machine line gives the version of each of ``versions`` packages.
    """

    title: str
    intro: str
    peer: str
    label: str
    versions: tuple[str, ...]
    body: Callable[[Results], list[str]]

    def machine(self, results: Results) -> str:
        """Cores, CPU, memory, OS, Python, both tools, and prodml's version of each package
        (with the peer's beside it where they differ)."""
        p, q = results["prodml"]["versions"], results[self.peer]["versions"]
        both = ", ".join(
            f"{name} {p[name]}"
            + ("" if p[name] == q[name] else f" ({self.label}'s env: {q[name]})")
            for name in self.versions
        )
        return (
            f"{machine()}; Python {p['python']}; "
            f"prodml {p['prodml']}, {self.label} {q[self.peer]}; {both}"
        )

    def section(self, results: Results, command: str, seconds: int) -> str:
        return "\n".join(
            [
                self.title,
                "",
                self.intro,
                "",
                f"- Date: {datetime.date.today().isoformat()}",
                f"- Machine: {self.machine(results)}",
                f"- Command: `{command}` (took {seconds} s, not counting the one-time "
                f"{self.label} install)",
                *self.body(results),
            ]
        )

    def main(self, doc: str) -> Results:
        """``main`` of a report script: rewrite the section from the two JSON results.

        Parses ``PRODML_JSON PEER_JSON --command CMD --seconds S [--output FILE]`` (FILE
        is docs/benchmarks.md unless given; HEADER starts it if it is missing), with the
        first line of the script's ``doc`` as the description; returns the results read.
        """
        parser = argparse.ArgumentParser(description=doc.splitlines()[0])
        parser.add_argument("prodml", type=Path, help="what bench_prodml.py printed")
        parser.add_argument(self.peer, type=Path, help=f"what bench_{self.peer}.py printed")
        parser.add_argument("--command", required=True, help="the command that ran the benchmark")
        parser.add_argument("--seconds", type=int, required=True, help="how long it took")
        parser.add_argument("--output", type=Path, default=Path("docs/benchmarks.md"))
        args = parser.parse_args()
        results = {
            "prodml": json.loads(args.prodml.read_text()),
            self.peer: json.loads(getattr(args, self.peer).read_text()),
        }
        text = args.output.read_text() if args.output.exists() else HEADER
        args.output.parent.mkdir(parents=True, exist_ok=True)
        new = self.section(results, args.command, args.seconds)
        args.output.write_text(replace_section(text, self.title, new))
        return results
