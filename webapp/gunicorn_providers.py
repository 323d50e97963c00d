"""gunicorn settings for the simulated providers' server (``make run``: ``gunicorn -c
python:webapp.gunicorn_providers …``): no ``Server`` banner, as for the app (issue 17, D11).

Importing ``gunicorn_conf`` removes gunicorn's banner for this process; of its settings only the request
limits are taken. The app's ``preload_app`` is not: the providers open their SQLite state and start their
notification thread when the app is built, which must happen in each worker, not in the master.
"""

from __future__ import annotations

from . import gunicorn_conf

limit_request_line = gunicorn_conf.limit_request_line
limit_request_field_size = gunicorn_conf.limit_request_field_size
