"""The dashboard: runs, versions, deployments, live traffic, monitoring, alerts and the
review queue, as web pages (``prodml ui``, or ``/ui`` of ``prodml serve`` with
``serve.ui: true``; :func:`prodml.ui.app.create_ui` and :func:`prodml.ui.app.mount`).

Server-rendered from Jinja2 templates; htmx refreshes the live parts and uPlot draws the
charts, both shipped in this package (``static/``): no build step, no CDN, it works
offline. Pages read through prodml's own Python API, so they show what the command
line's ``--json`` shows.
"""

#: The modules of this package; each names its public functions and classes.
__all__ = [
    "access",
    "app",
    "launch",
    "overview",
    "pages",
    "render",
    "runs_query",
    "secret",
    "state",
    "timeline",
    "traffic",
]
