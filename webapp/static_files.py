"""Static files, served by WhiteNoise in front of Flask: a gzip copy next to each text file (made or
remade when the file is newer, once per process start), a content hash in every ``url_for('static', …)``
URL (``?v=``) so the answer can be cached for a year, and the app's security headers. No session, no
``Vary: Cookie``: static answers never pass through Flask.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask

YEAR = 365 * 24 * 3600
COMPRESSIBLE = (".css", ".js", ".svg", ".json", ".txt", ".html", ".map")


def precompress(root: Path) -> None:
    """Write ``name.gz`` beside every compressible file that has none or an older one (atomic rename)."""
    for path in root.rglob("*"):
        if path.suffix not in COMPRESSIBLE or not path.is_file():
            continue
        gz = path.with_name(path.name + ".gz")
        if gz.exists() and gz.stat().st_mtime_ns >= path.stat().st_mtime_ns:
            continue
        tmp = gz.with_name(f".{gz.name}.{os.getpid()}")
        tmp.write_bytes(gzip.compress(path.read_bytes(), compresslevel=9, mtime=0))
        os.replace(tmp, gz)


def init_app(app: Flask, security_headers: Callable[[Any], None]) -> None:
    """Serve ``static/`` through WhiteNoise and version its URLs by content."""
    from whitenoise import WhiteNoise

    root = Path(str(app.static_folder))
    try:
        precompress(root)
    except OSError:  # a read-only checkout: served uncompressed
        app.logger.warning("static files: no gzip copies written under %s", root)
    hashes: dict[str, str] = {}

    def version(filename: str) -> str:
        if filename not in hashes:
            try:
                hashes[filename] = hashlib.sha256((root / filename).read_bytes()).hexdigest()[:12]
            except OSError:
                hashes[filename] = "0"
        return hashes[filename]

    @app.url_defaults
    def _hashed(endpoint: str, values: dict[str, Any]) -> None:
        if endpoint == "static" and "filename" in values and "v" not in values:
            values["v"] = version(str(values["filename"]))

    def add_headers(headers: Any, _path: str, _url: str) -> None:
        security_headers(headers)
        headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"  # the URL changes with the content

    app.wsgi_app = WhiteNoise(  # type: ignore[method-assign]  # Flask's documented way to wrap its WSGI app
        app.wsgi_app,
        root=str(root),
        prefix="static/",
        max_age=YEAR,
        add_headers_function=add_headers,
    )
