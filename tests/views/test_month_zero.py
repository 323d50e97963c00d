"""A 费款所属期 of year 0000 (found by the property sweep: ``/certificates?start=0000-01`` answered 500)."""

import pytest

from webapp.domain.calendar import Month

from ..conftest import text


def test_year_0000_is_not_a_month():
    with pytest.raises(ValueError):
        Month.parse("0000-01")


@pytest.mark.parametrize("path", ["/certificates?start=0000-01", "/rm/records?start=0000-01&end=2026-12"])
def test_a_range_from_year_0000_is_refused_on_the_page_not_500(wechat_user, path):
    r = wechat_user.get(path)
    assert r.status_code == 422 and "YYYY-MM" in text(r)
