"""The htmx headers read and sent through flask-htmx (issue 18 item 4): only ``HX-Request: true`` (what htmx sends)
makes a request htmx's, and a boosted or history-restore request gets the whole page. The login redirect of an htmx
request (flask-htmx's ``HX-Redirect``) and a made-up ``HX-Current-URL`` are tests/views/test_login_trust.py's D6."""

from __future__ import annotations

import pytest

from ..conftest import text


@pytest.mark.parametrize("value", ["false", "1", ""])
def test_an_hx_request_header_other_than_true_gets_the_whole_page(wechat_user, value):
    r = wechat_user.get("/rm/declared?partial=1", headers={"HX-Request": value})
    assert r.status_code == 200 and "<html" in text(r)


@pytest.mark.parametrize(
    "extra", [{"HX-Boosted": "true"}, {"HX-History-Restore-Request": "true"}], ids=["boosted", "history-restore"]
)
def test_a_boosted_or_history_restore_request_gets_the_whole_page(wechat_user, extra):
    r = wechat_user.get("/rm/declared?partial=1", headers={"HX-Request": "true", **extra})
    assert r.status_code == 200 and "<html" in text(r)
