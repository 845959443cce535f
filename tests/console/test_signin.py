"""Signing in and out of the console: cookies, CSRF, where a browser is sent back, what ends a session."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from engine.api.roles import Role
from engine.api.users import disable_user
from engine.console.app import create_site
from tests.console.support import Console, csrf_of, sign_in


def test_a_browser_is_sent_to_sign_in_and_back(console: Console) -> None:
    browser = console.anonymous()
    answer = browser.get("/", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/console/"
    answer = browser.get("/console/?status=open", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/signin?next=/console/%3Fstatus%3Dopen"
    form = browser.get(answer.headers["location"])
    assert form.status_code == 200 and 'name="token"' in form.text
    token = console.world.tokens[Role.leader]
    signed = browser.post("/console/signin", data={"csrf": csrf_of(form.text), "token": token,
                                                   "next": "/console/?status=open"}, follow_redirects=False)
    assert signed.status_code == 303 and signed.headers["location"] == "/console/?status=open"
    cookie = signed.headers["set-cookie"]
    assert "eiso_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain HTTP on loopback


def test_secure_cookie_over_https(console: Console) -> None:
    browser = TestClient(create_site(console.world.eiso), base_url="https://eiso.example")
    form = browser.get("/console/signin")
    signed = browser.post("/console/signin", follow_redirects=False,
                          data={"csrf": csrf_of(form.text), "token": console.world.tokens[Role.leader]})
    assert "Secure" in signed.headers["set-cookie"]


def test_next_never_leaves_the_console(console: Console) -> None:
    browser = console.anonymous()
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)", "/docs"):
        form = browser.get("/console/signin")
        signed = browser.post("/console/signin", data={"csrf": csrf_of(form.text), "next": target,
                                                       "token": console.world.tokens[Role.leader]},
                              follow_redirects=False)
        assert signed.headers["location"] == "/console/", target


def test_wrong_or_missing_token_and_csrf_are_refused_on_the_page(console: Console) -> None:
    browser = console.anonymous()
    form = browser.get("/console/signin")
    csrf = csrf_of(form.text)
    wrong = browser.post("/console/signin", data={"csrf": csrf, "token": "eiso_nope"})
    assert wrong.status_code == 401 and "Mã truy cập không đúng" in wrong.text
    empty = browser.post("/console/signin", data={"csrf": csrf, "token": " "})
    assert empty.status_code == 422 and "Hãy nhập mã truy cập" in empty.text
    forged = browser.post("/console/signin", data={"csrf": "forged", "token": console.world.tokens[Role.leader]})
    assert forged.status_code == 403 and "eiso_session" not in forged.headers.get("set-cookie", "")
    hostile = browser.post("/console/signin", data={"csrf": csrf, "token": "<script>alert(1)</script>" * 1000})
    assert hostile.status_code == 401 and "<script>alert" not in hostile.text


def test_sign_out_ends_the_session_even_for_a_copied_cookie(console: Console) -> None:
    browser = console.browser(Role.leader)
    cookie = browser.cookies.get("eiso_session")
    home = browser.get("/console/")
    assert home.status_code == 200
    refused = browser.post("/console/signout", data={"csrf": "forged"})
    assert refused.status_code == 403
    out = browser.post("/console/signout", data={"csrf": csrf_of(home.text)}, follow_redirects=False)
    assert out.status_code == 303
    copy = console.anonymous()
    copy.cookies.set("eiso_session", cookie)
    assert copy.get("/console/", follow_redirects=False).status_code == 303


def test_a_disabled_user_or_an_expired_session_goes_back_to_sign_in(console: Console) -> None:
    browser = console.browser(Role.leader)
    assert browser.get("/console/", follow_redirects=False).status_code == 200
    other = sign_in(console.anonymous(), console.world.tokens[Role.auditor])
    console.world.clock.set(console.world.clock.now() + timedelta(hours=9))
    assert other.get("/console/", follow_redirects=False).status_code == 303  # 8 hours by default
    disable_user(console.world.eiso.engine, "leader-user", console.world.clock.now())
    assert browser.get("/console/", follow_redirects=False).status_code == 303


def test_pages_speak_vietnamese_then_english_on_the_switch(console: Console) -> None:
    browser = console.browser(Role.leader)
    home = browser.get("/console/")
    assert '<html lang="vi">' in home.text and "Đăng xuất" in home.text
    switched = browser.get("/console/lang/en?next=/console/")
    assert '<html lang="en">' in switched.text and "Sign out" in switched.text
    assert browser.get("/console/lang/en?next=https://evil.example", follow_redirects=False).headers["location"] \
        == "/console/"


def test_security_headers_and_html_errors(console: Console) -> None:
    browser = console.browser(Role.leader)
    home = browser.get("/console/")
    assert "script-src 'self'" in home.headers["content-security-policy"]
    assert home.headers["x-frame-options"] == "DENY" and home.headers["cache-control"] == "no-store"
    missing = browser.get("/console/no-such-page")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    assert "Traceback" not in missing.text
    asset = browser.get("/console/static/console.css")
    assert asset.status_code == 200 and "no-store" not in asset.headers.get("cache-control", "")
