"""Write the "## Reference profile" section of docs/benchmarks.md from the two JSON results.

Merges what bench_prodml.py and bench_pandas.py printed, adds the date, the machine and
the command, and replaces that one section of the file (other sections stay as they are).
Exits with 1 when prodml's peak memory is not under the 1 GiB goal. Standard library only.

    python -m benchmarks.profile.report PRODML_JSON PANDAS_JSON --command CMD --seconds S
"""

from __future__ import annotations

from benchmarks.profile.common import GROUP_ROWS
from benchmarks.shared import Report, Results

TITLE = "## Reference profile"
VERSIONS = ("numpy", "pyarrow")
GOAL_MIB = 1024

INTRO = """\
How much memory and time does the reference profile of a large file take, next to
reading it whole with pandas? The file: 10,000,000 rows from a seeded generator
(`benchmarks/profile/common.py`), 21 columns: 12 numeric (floats, some with missing
values, and integers), a datetime, 2 booleans, 5 of text (one with missing values, one
with 20,000 distinct values, more than the 1,000 a profile counts) and a category;
Parquet (snappy), written one row group at a time. *prodml* is
`profile_chunks(read_chunks(path))` from `prodml.data.profile`: chunks of at most
1,000,000 rows into one `ProfileBuilder` with its defaults (a sample of 10,000 rows, up
to 1,000 values per categorical column), then `finish()`. *pandas* is
`pd.read_parquet(path)` of the whole file, then `describe(include="all")`. Each side runs
once, in a new process of its own in prodml's environment; its peak memory is the
process's peak resident set (`ru_maxrss`) at its end, imports included."""


def body(results: Results) -> list[str]:
    """The section after its command line: the file, the table and the findings."""
    p, q = results["prodml"], results["pandas"]
    file, profile = p["file"], p["profile"]
    ours, theirs = p["peak_mib"]["end"], q["peak_mib"]["end"]
    read, described = q["seconds"]["read"], q["seconds"]["describe"]
    verdict = "under" if ours < GOAL_MIB else "NOT under"
    return [
        f"- File: {file['rows']:,} rows, {file['columns']} columns, {file['row_groups']} row "
        f"groups of {GROUP_ROWS:,} rows, {file['bytes'] / 2**20:,.0f} MiB",
        "",
        "| side | wall s | peak memory MiB | peak after the imports MiB |",
        "|---|---:|---:|---:|",
        f"| prodml: `read_chunks` + `ProfileBuilder`, `finish()` | {p['seconds']['profile']:.1f} "
        f"| {ours:,.0f} | {p['peak_mib']['after_imports']:,.0f} |",
        f'| pandas: `read_parquet` ({read:.1f} s) + `describe(include="all")` '
        f"({described:.1f} s) | {read + described:.1f} | {theirs:,.0f} "
        f"| {q['peak_mib']['after_imports']:,.0f} |",
        "",
        f"- prodml's peak, {ours:,.0f} MiB, is {verdict} the goal of {GOAL_MIB:,} MiB; pandas "
        f"peaks at {theirs:,.0f} MiB ({theirs / ours:.1f}x), its frame alone holding "
        f"{q['frame_mib']:,.0f} MiB.",
        f"- The profile as JSON: {profile['json_bytes'] / 2**20:.1f} MiB "
        f"({p['seconds']['to_json']:.2f} s for `to_dict()` and `json.dumps`); columns past "
        "1,000 values, the later ones counted in `other`: "
        f"{', '.join(profile['capped']) or 'none'}.",
        "",
    ]


class _Report(Report):
    """pandas is prodml's own dependency: there is no peer install to leave out."""

    def section(self, results: Results, command: str, seconds: int) -> str:
        said = f", not counting the one-time {self.label} install"
        return super().section(results, command, seconds).replace(said, "")


REPORT = _Report(
    title=TITLE, intro=INTRO, peer="pandas", label="pandas", versions=VERSIONS, body=body
)


def main() -> None:
    results = REPORT.main(__doc__)
    peak = results["prodml"]["peak_mib"]["end"]
    print(f"{TITLE.removeprefix('## ')}: prodml's peak memory {peak:,.0f} MiB")
    if peak >= GOAL_MIB:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
