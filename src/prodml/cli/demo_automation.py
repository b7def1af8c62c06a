"""The demo's automation step, against a running ``prodml serve``: loans at ``partial`` for
a target error, the hard applications deferred to the review queue, a person answering
some of them, and the error of what the model decided alone once the true decisions are
back."""

from __future__ import annotations

from collections import Counter

from prodml.cli.automation import described
from prodml.cli.demo_deploy import ENDPOINT, test_rows
from prodml.cli.render import console
from prodml.project import Project
from prodml.serve.demo import answers, records, send_feedback, wait_until

#: Applications sent once the level is set (10 a request), and the items a person answers.
TRAFFIC, ANSWERED = 1_000, 5
TARGET = 0.05


def automation_step(url: str, project: Project) -> None:
    """Set ``partial`` with a target error, send traffic, review some, measure."""
    deployment = project.automate(
        ENDPOINT, "partial", target_error=TARGET, audit_sample=0.02, reason="demo"
    )
    console.print(
        f"  [bold]prodml automation {ENDPOINT} partial --target-error {TARGET} "
        f"--audit-sample 0.02[/]:\n  {described(deployment.automation or {})}"
    )
    rows = test_rows(project).tail(TRAFFIC)
    features = list(project.load_data().features)
    probe = records(rows.head(20)[features])
    wait_until(lambda: any(a.get("status") == "deferred" for a in answers(url, probe)), "partial")
    sent = answers(url, records(rows[features]), per_request=10)
    deciders = Counter(a["decided_by"] for a in sent)
    console.print(
        f"  sent {len(sent):,} applications: the model decided {deciders['model']:,} "
        f"({deciders['model'] / len(sent):.0%}), {deciders['person']:,} went to people"
    )
    queue = project.review_queue
    size, _ = queue.backlog(ENDPOINT)
    console.print(f"  the review queue holds {size:,} items (the least confident first)")
    truth = dict(
        zip([a["request_id"] for a in sent], rows[project.settings.data.target], strict=True)
    )
    for _ in range(ANSWERED):
        item = queue.next("underwriter", ENDPOINT)
        if item is None:
            break
        label = int(truth.get(item.request_id, 0))
        queue.answer(item.request_id, "underwriter", label, "checked the documents")
        suggested = (item.suggestion or {}).get("label")
        console.print(
            f"  [bold]prodml review answer {item.request_id} {label}[/] (suggested: {suggested})"
        )
    automatic = [a for a in sent if a["decided_by"] == "model"]
    send_feedback(url, [(a["request_id"], int(truth[a["request_id"]])) for a in automatic])
    wrong = sum(str(a["label"]) != str(int(truth[a["request_id"]])) for a in automatic)
    console.print(
        f"  the true decisions came back: the model alone erred on {wrong} of "
        f"{len(automatic):,} ({wrong / max(len(automatic), 1):.1%}; target {TARGET:.0%})"
    )
