"""The dashboard: runs, versions, deployments, live traffic, monitoring, alerts and the
review queue, as web pages (``prodml ui``, or ``/ui`` of ``prodml serve`` with
``serve.ui: true``).

Server-rendered from Jinja2 templates; htmx refreshes the live parts and uPlot draws the
charts, both shipped in this package (``static/``): no build step, no CDN, it works
offline. Pages read through prodml's own Python API, so they show what the command
line's ``--json`` shows.
"""

from prodml.ui.app import create_ui, dashboard_app, mount

__all__ = ["create_ui", "dashboard_app", "mount"]
