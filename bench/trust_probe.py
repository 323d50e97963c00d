"""Issue 17's probe, the web side, against a running app (``make run``, or gunicorn as it starts it): each case
the security probe reported for D2, D3, D4, D5, D6, D9 and D11, replayed over HTTP, with what was tried, what
was refused and how many answers were 5xx.

    APP_TODAY=2026-11-22 CAPTCHA_TEST_ANSWER=PROBE RATELIMIT_LOGIN="1000 per minute" \
      RATELIMIT_FACE="1000 per minute" RATELIMIT_NEW_SESSION="1000 per minute" make run
    .venv/bin/python bench/trust_probe.py --base http://127.0.0.1:5000 --providers http://127.0.0.1:5001

Every case comes from this one address, so the per-address limits on logins, face checks and new sessions
are raised as the probe raised them (the tests show those limits: tests/views/test_login_trust.py); the
budgets under test (failed face checks per address and ID, wrong 记录查验 attempts) keep their defaults.
Run it on a fresh start: the face-check case locks 王建国's ID from this address for ten minutes, as it should.
With ``--redis-url`` (the app's REDIS_URL) it also counts the session keys the cookie-less POSTs left.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests

WANG = ("王建国", "110105198003120032")  # rm-family
SUN = ("孙强", "110101199003070054")  # no-enrolment
ZHOU = ("周敏", "110106197811030029")  # face-fails
EVIL = "https://evil.example"


def token(html: str) -> str:
    """The form token of a page."""
    m = re.search(r'name="csrf_token" value="([^"]+)"|"X-CSRFToken": "([^"]+)"', html)
    if not m:
        raise SystemExit("no form token on the page: is this the app?")
    return m.group(1) or m.group(2)


def form(person: tuple[str, str], csrf: str) -> dict[str, str]:
    """The login form for a person."""
    return {"name": person[0], "id_type": "resident_id", "id_number": person[1], "agree": "1", "csrf_token": csrf}


def pending(base: str, person: tuple[str, str]) -> tuple[requests.Session, str]:
    """A phone whose login form was accepted: the session and the face page's token."""
    s = requests.Session()
    face = s.post(f"{base}/login", data=form(person, token(s.get(f"{base}/login").text)))
    return s, token(face.text)


def login(base: str, person: tuple[str, str]) -> requests.Session:
    """A phone logged in."""
    s, csrf = pending(base, person)
    r = s.post(f"{base}/login/face", data={"csrf_token": csrf}, allow_redirects=False)
    if r.status_code != 303:
        raise SystemExit(f"{person[0]} could not log in ({r.status_code}): run the probe on a fresh start")
    return s


class Table:
    """The rows of the report."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, int, int, int, str]] = []

    def add(self, defect: str, case: str, statuses: list[int], refused: int, note: str = "") -> None:
        """One case: how many were tried, refused, answered 5xx."""
        fives = sum(s >= 500 for s in statuses)
        self.rows.append((defect, case, len(statuses), refused, fives, note))

    def print(self) -> None:
        """As a Markdown table."""
        print("| defect | case | tried | refused | 5xx | note |")
        print("| --- | --- | --- | --- | --- | --- |")
        for row in self.rows:
            print("| " + " | ".join(str(c) for c in row) + " |")


def d2(base: str, t: Table, redis_url: str | None) -> None:
    """Login CSRF: copied tokens, cross-site origins, cookie-less POSTs that write sessions."""
    tokens = [token(requests.get(f"{base}/login").text) for _ in range(10)]
    statuses = [
        requests.post(f"{base}/login", data=form(SUN, tokens[i % 10]), allow_redirects=False).status_code
        for i in range(20)
    ]
    t.add(
        "D2",
        "cookie-less POST /login with a token copied from an anonymous GET",
        statuses,
        sum(s != 303 for s in statuses),
        f"{len(set(tokens))} distinct tokens in 10 GETs",
    )
    s = requests.Session()
    own = token(s.get(f"{base}/login").text)
    statuses = [
        s.post(f"{base}/login", data=form(SUN, own), headers=h, allow_redirects=False).status_code
        for h in ({"Origin": EVIL}, {"Origin": "null"}, {"Referer": EVIL + "/x"}) * 5
    ]
    t.add(
        "D2",
        "POST /login from another site (Origin/Referer), the browser's own token",
        statuses,
        sum(s == 403 for s in statuses),
    )
    keys_before = _session_keys(redis_url)
    statuses = [
        requests.post(
            f"{base}/me/display-mode", data={"mode": "elder", "csrf_token": tokens[0]}, allow_redirects=False
        ).status_code
        for _ in range(300)
    ]
    keys = _session_keys(redis_url)
    note = f"session keys in Redis: {keys - keys_before:+d}" if keys is not None and keys_before is not None else ""
    t.add("D2", "300 cookie-less POST /me/display-mode", statuses, sum(s != 303 for s in statuses), note)


def _session_keys(redis_url: str | None) -> int | None:
    if not redis_url:
        return None
    import redis

    return sum(1 for _ in redis.Redis.from_url(redis_url).scan_iter(match="*sess:*", count=1000))


def d3(base: str, t: Table) -> None:
    """40 concurrent failed face checks for someone else's ID from one address."""
    phones = [pending(base, ("李四", WANG[1])) for _ in range(40)]
    with ThreadPoolExecutor(40) as pool:
        statuses = list(
            pool.map(lambda p: p[0].post(f"{base}/login/face", data={"csrf_token": p[1]}).status_code, phones)
        )
    judged = sum(s == 422 for s in statuses)
    t.add(
        "D3",
        "40 concurrent failed face checks, one address, one ID",
        statuses,
        sum(s == 429 for s in statuses),
        f"judged {judged} (budget 5)",
    )


def d4(base: str, t: Table) -> None:
    """A session id planted before the victim logs in."""
    attacker, _csrf = pending(base, SUN)
    planted = attacker.cookies.get("session")
    victim = requests.Session()
    victim.cookies.set("session", planted or "")
    victim.post(f"{base}/login", data=form(WANG, token(victim.get(f"{base}/login").text)))
    seen = WANG[1] in attacker.get(f"{base}/login").text
    finish = attacker.post(f"{base}/login/face", data={"csrf_token": _csrf}, allow_redirects=False)
    statuses = [200 if seen else 403, finish.status_code]
    refused = (not seen) + (finish.status_code != 303 or "/login" in finish.headers.get("Location", ""))
    t.add("D4", "planted session: see the victim's ID, finish the face step", statuses, refused)


def d5(base: str, t: Table) -> None:
    """The unkeyed name, and the face-fail persona's answers."""
    from webapp.domain.identity import HOLDER_GIVEN, HOLDER_SURNAMES

    number = "110101199001011237"
    d = hashlib.sha256(f"resident_id:{number}".encode()).digest()
    name = HOLDER_SURNAMES[d[0] % len(HOLDER_SURNAMES)] + HOLDER_GIVEN[d[1] % len(HOLDER_GIVEN)]
    name += HOLDER_GIVEN[d[2] % len(HOLDER_GIVEN)] if d[3] % 3 else ""
    s, csrf = pending(base, (name, number))
    r = s.post(f"{base}/login/face", data={"csrf_token": csrf}, allow_redirects=False)
    t.add("D5", f"log in as {number} with the public hash's name ({name})", [r.status_code], int(r.status_code != 303))
    notices = []
    for who in (ZHOU, ("周某", ZHOU[1])):
        s, csrf = pending(base, who)
        page = s.post(f"{base}/login/face", data={"csrf_token": csrf}).text
        notices.append(re.search(r'class="app-notice[^"]*"[^>]*>([^<]*)<', page).group(1))  # type: ignore[union-attr]
    t.add(
        "D5",
        "face-fails persona: right name vs wrong name",
        [422, 422],
        2 if notices[0] == notices[1] else 0,
        "same message" if notices[0] == notices[1] else "messages differ",
    )


def d6(base: str, t: Table) -> None:
    """The three 500s."""
    anonymous = requests.Session()
    csrf = token(anonymous.get(f"{base}/").text)
    routes = [
        "/rm/pay",
        "/rm/pay/select",
        "/flex/base",
        "/flex/base/preview",
        "/flex/pay/select",
        "/agreements/new",
        "/rp/pay/select",
        "/certificates/apply",
        "/logout/everywhere",
        "/pay/1",
    ]
    statuses = [
        anonymous.post(
            f"{base}{p}", data={"csrf_token": csrf}, headers={"HX-Request": "true", "HX-Current-URL": u}
        ).status_code
        for p in routes
        for u in ("http://[", "//[")
    ]
    t.add("D6", "HX-Current-URL: http://[ on login-required routes", statuses, 0, "answered: HX-Redirect to login")
    sun = login(base, SUN)
    r1 = sun.get(f"{base}/agreements/new/options?bank=ICBC", headers={"HX-Request": "true"})
    wang = login(base, WANG)
    r2 = wang.post(
        f"{base}/flex/base/preview",
        data={"base": "8000", "csrf_token": token(wang.get(f"{base}/").text)},
        headers={"HX-Request": "true"},
    )
    t.add(
        "D6",
        "agreement options without offices; base preview without a flexible enrolment",
        [r1.status_code, r2.status_code],
        0,
    )


def d9(base: str, t: Table) -> None:
    """60 concurrent wrong attempts; then (a minute later, when that budget is open again) one solved
    captcha submitted ten times at once, twice: a submission whose captcha passes gets 校验不通过 (the check
    code is wrong), one whose captcha was spent gets 验证码不正确."""
    _sixty(base, t)
    time.sleep(61)
    passes: Counter[int] = Counter()
    statuses: list[int] = []
    refused = 0
    for round_ in range(2):
        phone = requests.Session()
        csrf = token(phone.get(f"{base}/verify").text)
        data = {"id_number": f"1101051983061900{round_:02d}", "code": "1" * 16, "captcha": "PROBE", "csrf_token": csrf}
        cookies = phone.cookies.get_dict()
        with ThreadPoolExecutor(10) as pool:
            answers = list(
                pool.map(lambda _i, d=data, c=cookies: requests.post(f"{base}/verify", data=d, cookies=c), range(10))
            )
        statuses += [a.status_code for a in answers]
        refused += sum("验证码不正确" in a.text for a in answers)
        passes[sum("校验不通过" in a.text for a in answers)] += 1
    note = "captcha passed per round of 10: " + ", ".join(f"{k} ({v} rounds)" for k, v in sorted(passes.items()))
    t.add("D9", "one solved captcha, 10 concurrent submissions (x2)", statuses, refused, note)


def _sixty(base: str, t: Table) -> None:
    phones = []
    for i in range(60):
        p = requests.Session()
        phones.append((p, token(p.get(f"{base}/verify").text), i))
    with ThreadPoolExecutor(60) as pool:
        statuses = list(
            pool.map(
                lambda p: (
                    p[0]
                    .post(
                        f"{base}/verify",
                        data={
                            "id_number": f"11010519830619{p[2]:04d}",
                            "code": "1" * 16,
                            "captcha": "PROBE",
                            "csrf_token": p[1],
                        },
                    )
                    .status_code
                ),
                phones,
            )
        )
    t.add(
        "D9",
        "60 concurrent wrong attempts, one address",
        statuses,
        sum(s == 429 for s in statuses),
        f"judged {sum(s == 200 for s in statuses)} (budget 20)",
    )


def d11(base: str, providers: str, t: Table) -> None:
    """Headers: the providers' server, a logged-in page."""
    r = requests.get(f"{providers}/healthz")
    ok = "Server" not in r.headers and "frame-ancestors 'none'" in r.headers.get("Content-Security-Policy", "")
    t.add("D11", "providers' server: no Server banner, CSP frame-ancestors", [r.status_code], int(ok))
    page = login(base, SUN).get(f"{base}/me")
    t.add(
        "D11",
        "a logged-in page: Cache-Control: no-store",
        [page.status_code],
        int(page.headers.get("Cache-Control") == "no-store"),
    )


def main() -> None:
    """Run every case and print the table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", default="http://127.0.0.1:5000")
    ap.add_argument("--providers", default="http://127.0.0.1:5001")
    ap.add_argument("--redis-url", default=None)
    args = ap.parse_args()
    t = Table()
    d2(args.base, t, args.redis_url)
    d4(args.base, t)
    d5(args.base, t)
    d6(args.base, t)
    d9(args.base, t)
    d11(args.base, args.providers, t)
    d3(args.base, t)
    t.print()


if __name__ == "__main__":
    main()
