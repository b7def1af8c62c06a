"""The project file: parsed once into typed settings, or one readable error."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from prodml.config import (
    BalancedSplit,
    StratifiedSplit,
    TimeSplit,
    load_settings,
    parse_settings,
)
from prodml.errors import ConfigError

BASE: dict[str, Any] = {
    "project": "p",
    "data": {"source": "data/x.csv", "target": "y"},
    "model": "sklearn.linear_model.LogisticRegression",
}


def with_(**changes: Any) -> dict[str, Any]:
    return {**BASE, **changes}


def with_data(**changes: Any) -> dict[str, Any]:
    return {**BASE, "data": {**BASE["data"], **changes}}


def test_minimal_file_gets_defaults() -> None:
    settings = parse_settings(BASE)
    assert settings.task == "classification"
    assert settings.model.factory == "sklearn.linear_model.LogisticRegression"
    assert settings.model.params == {}
    assert settings.data.split_settings("classification") == StratifiedSplit(
        method="stratified", dev=0.2, test=0.2, seed=0
    )
    assert settings.data.split_settings("regression").method == "random"


def test_settings_are_frozen() -> None:
    settings = parse_settings(BASE)
    with pytest.raises(ValueError, match="frozen"):
        settings.project = "other"  # type: ignore[misc]


def test_every_split_method_parses() -> None:
    balanced = parse_settings(with_data(split={"method": "balanced", "on": ["gender"]}))
    assert balanced.data.split == BalancedSplit(method="balanced", on=("gender",))
    timed = parse_settings(with_data(split={"method": "time", "test_after": "2024-07-01"}))
    assert isinstance(timed.data.split, TimeSplit)
    assert timed.data.split.test_after == datetime(2024, 7, 1)


def test_yaml_dates_become_midnight(tmp_path: Path) -> None:
    (tmp_path / "prodml.yaml").write_text(
        "project: p\ndata: {source: x.csv, target: y, split: {method: time, test_after: 2024-07-01}}\n"
        "model: sklearn.tree.DecisionTreeClassifier\n"
    )
    split = load_settings(tmp_path).data.split
    assert isinstance(split, TimeSplit) and split.test_after == datetime(2024, 7, 1)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            with_(modle={}),
            r"^unknown key 'modle' in the top level of prodml.yaml; allowed keys are: "
            r"project, task, data, model, search, baselines, evaluate, labels, monitor, log, serve, "
            r"deploy, \.\.\. \(15 in all\); did you mean 'model'\?$",
        ),
        (
            with_(task="clasification"),
            r"^task 'clasification' is not allowed; choose one of: classification, regression; "
            r"did you mean 'classification'\?$",
        ),
        (
            with_data(split={"method": "stratifed"}),
            r"^data.split.method 'stratifed' is not allowed; choose one of: random, stratified, "
            r"balanced, time; did you mean 'stratified'\?$",
        ),
        (with_data(split={"test": 0.3}), r"^data.split.method is missing; choose one of"),
        (
            with_data(split={"method": "random", "tset": 0.3}),
            r"unknown key 'tset' in data.split .*did you mean 'test'\?$",
        ),
        (
            with_data(split={"method": "random", "test": 1.5}),
            r"^data.split.test 1.5: .*less than 1",
        ),
        (
            with_data(split={"method": "random", "test": 0.5, "dev": 0.5}),
            r"dev 0.5 \+ test 0.5 leaves no training rows",
        ),
        (
            with_data(split={"method": "time"}),
            r"^data.split.test_after is missing from prodml.yaml; set it to a date",
        ),
        (
            with_data(
                split={"method": "time", "test_after": "2024-01-01", "dev_after": "2025-01-01"}
            ),
            r"dev_after 2025-01-01 must come before test_after 2024-01-01",
        ),
        ({"project": "p", "model": "x.Y"}, r"^data is missing from prodml.yaml"),
        (with_data(source={"sql": "select 1"}), r"^data.source.url is missing .*SQLAlchemy URL"),
        (with_(model={"params": {}}), r"^model.factory is missing"),
        (
            with_(
                search={"method": "grid", "params": {"C": {"dist": "uniform", "low": 0, "high": 1}}}
            ),
            r"only random search can sample",
        ),
        (
            with_(
                search={
                    "method": "random",
                    "params": {"C": {"dist": "unifrm", "low": 0, "high": 1}},
                }
            ),
            r"^search.params.C.dist 'unifrm' is not allowed; .*did you mean 'uniform'\?$",
        ),
        (with_(search={"params": {"C": []}}), r"params.C is an empty list"),
        (with_(store={"databse": "x"}), r"did you mean 'database'\?$"),
    ],
)
def test_bad_values_name_the_key_the_value_and_what_is_allowed(
    raw: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        parse_settings(raw)
    assert "\n" not in str(caught.value)


def test_serve_batch_sets_the_batcher_s_limits() -> None:
    from prodml.serve.options import ServeOptions

    batch = {"max_rows": 64, "max_wait_ms": 5, "queue_rows": 500}
    options = ServeOptions(**parse_settings(with_(serve={"batch": batch})).serve.options())

    assert (options.max_batch, options.max_wait, options.max_queue) == (64, 0.005, 500)
    assert ServeOptions(**parse_settings(BASE).serve.options()) == ServeOptions()
    with pytest.raises(ConfigError, match=r"^serve.batch.max_rows 0: .* greater than or equal"):
        parse_settings(with_(serve={"batch": {"max_rows": 0}}))


def test_malformed_yaml_says_where(tmp_path: Path) -> None:
    (tmp_path / "prodml.yaml").write_text("project: p\ndata:\n  target: y\n model: [unclosed\n")
    with pytest.raises(ConfigError, match=r"^prodml.yaml is not valid YAML: line \d+, column \d+"):
        load_settings(tmp_path)


def test_missing_project_file_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no prodml.yaml in .*prodml init"):
        load_settings(tmp_path)


@pytest.mark.parametrize(
    ("text", "message"), [("", "is empty"), ("- a\n- b\n", "must be a mapping")]
)
def test_empty_or_non_mapping_file(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "prodml.yaml").write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(tmp_path)


# --- YAML's traps: encodings, duplicate keys, aliases, YAML 1.1 booleans, seeds ------------

MINIMAL = (
    "project: p\ndata: {source: x.csv, target: y}\nmodel: sklearn.tree.DecisionTreeClassifier\n"
)


def write(folder: Path, content: str | bytes) -> Path:
    file = folder / "prodml.yaml"
    if isinstance(content, bytes):
        file.write_bytes(content)
    else:
        file.write_text(content, encoding="utf-8")
    return file


def test_a_file_that_is_not_utf8_names_the_file_and_the_byte(tmp_path: Path) -> None:
    file = write(tmp_path, MINIMAL.encode() + "# café\n".encode("latin-1"))
    offset = len(MINIMAL.encode()) + len("# caf")

    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path)

    assert str(caught.value) == (
        f"{file} is not UTF-8: byte {offset} (line 4) is 0xe9; save the file as UTF-8"
    )


@pytest.mark.parametrize(
    ("text", "first", "second"),
    [
        ("project: p\n" + MINIMAL, 1, 2),
        ("project: p\ndata: {source: x.csv, target: y, target: z}\nmodel: m.M\n", 2, 2),
        (MINIMAL + "task: regression\n" + "task: classification\n", 4, 5),
    ],
    ids=["top-level", "same-line", "far-apart"],
)
def test_a_key_given_twice_is_refused_with_both_lines(
    tmp_path: Path, text: str, first: int, second: int
) -> None:
    write(tmp_path, text)
    with pytest.raises(
        ConfigError,
        match=rf"^key '\w+' is given twice in prodml.yaml, on lines {first} and {second}; keep one$",
    ):
        load_settings(tmp_path)


BILLION_LAUGHS = "project: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"k{i}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8)
)


def test_an_alias_bomb_is_refused_at_once_in_a_short_line(tmp_path: Path) -> None:
    write(tmp_path, BILLION_LAUGHS)
    assert len(BILLION_LAUGHS) < 1000  # expanded, 9**9 values: hundreds of millions

    with pytest.raises(ConfigError, match=r"^prodml.yaml line 2: alias '\*a' is not allowed"):
        load_settings(tmp_path)


def test_an_anchor_without_alias_is_plain_yaml(tmp_path: Path) -> None:
    write(tmp_path, MINIMAL.replace("project: p", "project: &name p"))
    assert load_settings(tmp_path).project == "p"


@pytest.mark.parametrize(
    "split",
    [
        "  split: {method: balanced, on: [gender]}\n",
        "  split:\n    method: balanced\n    on: [gender]\n",
    ],
    ids=["flow", "block"],
)
def test_on_is_a_key_not_a_boolean(tmp_path: Path, split: str) -> None:
    write(tmp_path, "project: p\ndata:\n  source: x.csv\n  target: y\n" + split + "model: m.M\n")
    assert load_settings(tmp_path).data.split == BalancedSplit(method="balanced", on=("gender",))


@pytest.mark.parametrize(
    ("written", "read"),
    [("Yes", "Yes"), ("no", "no"), ("off", "off"), ("On", "On"), ("y", "y"), ("1", 1)],
)
def test_only_true_and_false_are_booleans(tmp_path: Path, written: str, read: object) -> None:
    write(tmp_path, MINIMAL.replace("target: y}", f"target: y, positive_class: {written}}}"))
    assert load_settings(tmp_path).data.positive_class == read


@pytest.mark.parametrize("written", ["true", "True", "TRUE", "tRuE"])
def test_true_in_any_case_is_a_boolean(tmp_path: Path, written: str) -> None:
    write(tmp_path, MINIMAL + f"evaluate: {{audit: [{{golden: {written}}}]}}\n")
    assert load_settings(tmp_path).evaluate.audit[0].golden is True


@pytest.mark.parametrize("seed", [-1, 2**32])
def test_a_seed_outside_what_numpy_takes_is_refused(seed: int) -> None:
    with pytest.raises(
        ConfigError,
        match=rf"^data.split.seed {seed}: a seed is a whole number from 0 to 4294967295 \(2\*\*32-1\)$",
    ):
        parse_settings(with_data(split={"method": "stratified", "seed": seed}))
    with pytest.raises(ConfigError, match=rf"^search.seed {seed}: a seed is a whole number"):
        parse_settings(with_(search={"params": {"C": [1]}, "seed": seed}))


def test_the_largest_seed_is_allowed() -> None:
    settings = parse_settings(with_data(split={"method": "stratified", "seed": 2**32 - 1}))
    assert settings.data.split_settings("classification").seed == 2**32 - 1  # type: ignore[union-attr]


def test_a_huge_value_is_shortened_in_the_message() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings(with_(task="x" * 100_000))
    message = str(caught.value)
    assert message.startswith("task 'xxx") and "…' is not allowed; choose one of" in message
    assert len(message) < 200
