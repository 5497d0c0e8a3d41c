"""The agents' inbox and signing in to it (handlers/agent_pages.py), on the local stack:
a one-time link to the agent's phone, a session cookie, the conversations waiting on us,
and every way in refused that should be. Then the inbox in headless Chromium, with its
phone-size screenshot in tests/artifacts/.

The session cookie is Secure: `requests` keeps such a cookie only over https, so these
tests send it by hand, as a browser on the https API does.
"""

from __future__ import annotations

import json
import os
import re
import struct
import uuid

import pytest
import requests

from conftest_helpers import chrome_driver, drain_outbox, put_on_call, route_message, run_cli, sqs_event, unique_number
from local_stack.invoke import invoke
from local_stack.paths import REPO_ROOT
from local_stack.send import twilio_sms_form
from local_stack.template import Template
from switchboard.models import Identity, IdentityKind, utc_now
from switchboard.oncall.config import add_agent, load_config, remove_agent
from switchboard.oncall.schedule import Agent
from switchboard.store import clients
from switchboard.store.oncall import OncallStore

pytestmark = pytest.mark.integration
SESSION = "__Host-switchboard-session"
FORM = "__Host-switchboard-form"
SIGN_IN_LINK = re.compile(r"https?://\S+/inbox/sign-in/[A-Za-z0-9_-]{22}")
SCREENSHOT = REPO_ROOT / "tests" / "artifacts" / "agent_inbox.png"


def cookie(response: requests.Response, name: str) -> str | None:
    """The Set-Cookie line for `name`, whole (attributes included)."""
    lines = response.raw.headers.get_all("Set-Cookie") or []
    return next((line for line in lines if line.startswith(f"{name}=")), None)


def value(line: str) -> str:
    return line.split(";", 1)[0].split("=", 1)[1]


def hidden(page: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]*)"', page).group(1)


def ask_for_link(local, address: str) -> requests.Response:
    """The sign-in form, filled in as a browser would: its CSRF token in the form and its cookie."""
    form = requests.get(f"{local.gateway_url}/inbox", timeout=30)
    token = value(cookie(form, FORM))
    return requests.post(f"{local.gateway_url}/inbox/sign-in", data={"csrf": hidden(form.text, "csrf"), "address": address},
                         headers={"Cookie": f"{FORM}={token}"}, timeout=30)


def sign_in(local, link: str) -> str:
    """Open the sign-in link's page and press its button: the session cookie's value."""
    confirm = requests.get(link, timeout=30)
    assert confirm.status_code == 200, confirm.text
    signed_in = requests.post(link, data={"csrf": hidden(confirm.text, "csrf")}, allow_redirects=False, timeout=30)
    assert (signed_in.status_code, signed_in.headers["Location"]) == (303, "/inbox")
    line = cookie(signed_in, SESSION)
    assert line.endswith("; Path=/; Max-Age=43200; HttpOnly; Secure; SameSite=Strict")
    return value(line)


def inbox(local, session: str) -> requests.Response:
    return requests.get(f"{local.gateway_url}/inbox", headers={"Cookie": f"{SESSION}={session}"}, timeout=30)


@pytest.fixture
def waiting(local):
    """Ana on call, paged about a customer's SMS: (ana, the conversation id)."""
    ana = put_on_call()
    form = twilio_sms_form(unique_number(), "The app logs me out every five minutes")
    assert local.post_sms(form).status_code == 200
    conversation_id = local.conversations().find_identity(Identity(IdentityKind.PHONE, form["From"]), consistent=True).conversation_id
    route_message(conversation_id, form["MessageSid"])
    return ana, conversation_id


def test_an_agent_signs_in_with_a_link_to_their_phone_and_sees_what_waits_on_us(local, waiting):
    ana, conversation_id = waiting
    drain_outbox()

    sent = ask_for_link(local, ana.phone)

    assert sent.status_code == 202
    (sms,) = [m for m in drain_outbox() if m["purpose"] == "sign_in"]
    assert sms["to"] == ana.phone and sms["channel"] == "sms"
    (link,) = SIGN_IN_LINK.findall(sms["body"])
    # Looking at the link's page twice uses nothing up (a link scanner's GET).
    assert "Sign in as Ana Lima?" in requests.get(link, timeout=30).text
    session = sign_in(local, link)
    # The link works once.
    assert requests.post(link, data={"csrf": "x"}, timeout=30).status_code in (403, 404)
    again = requests.get(link, timeout=30)
    assert again.status_code == 404

    page = inbox(local, session)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert "On call now: <strong>Ana Lima</strong>" in page.text
    row = page.text.split(f'href="/inbox/c/{conversation_id}"', 1)
    assert len(row) == 2 and "The app logs me out every five minutes" in row[1].split("</tr>")[0]
    assert 'class="mine"' in row[0].rsplit("<tr", 1)[1]  # her own page, on top

    shown = requests.get(f"{local.gateway_url}/inbox/c/{conversation_id}", headers={"Cookie": f"{SESSION}={session}"}, timeout=30)
    assert shown.status_code == 200 and "The app logs me out every five minutes" in shown.text
    fields = {name: hidden(shown.text, name) for name in ("csrf", "submission")}
    answered = requests.post(f"{local.gateway_url}/inbox/c/{conversation_id}", data={**fields, "action": "reply", "text": "Fixed in 4.2.1"},
                             headers={"Cookie": f"{SESSION}={session}"}, timeout=30)
    assert "Sent to" in answered.text
    assert [m["body"] for m in drain_outbox() if m["purpose"] == "customer_reply"] == ["Fixed in 4.2.1"]

    out = requests.post(f"{local.gateway_url}/inbox/sign-out", data={"csrf": hidden(page.text, "csrf")},
                        headers={"Cookie": f"{SESSION}={session}"}, allow_redirects=False, timeout=30)
    assert out.status_code == 303 and "Max-Age=0" in cookie(out, SESSION)
    assert "Send me a sign-in link" in inbox(local, session).text


def test_the_answer_is_the_same_for_a_stranger_and_the_requests_are_limited(local, waiting):
    drain_outbox()
    stranger = ask_for_link(local, unique_number())
    agent = ask_for_link(local, waiting[0].phone)
    assert (stranger.status_code, stranger.text) == (agent.status_code, agent.text)
    assert len([m for m in drain_outbox() if m["purpose"] == "sign_in"]) == 1

    # Three an address per quarter of an hour. Seven tries: even if a quarter ends among
    # them, one quarter holds four.
    address = f"someone-{uuid.uuid4().hex[:8]}@example.com"
    answers = [ask_for_link(local, address) for _ in range(7)]
    assert [a.status_code for a in answers[:3]] == [202, 202, 202]
    refused = [a for a in answers if a.status_code == 429]
    assert refused and 0 < int(refused[0].headers["Retry-After"]) <= 900


def test_forms_without_their_csrf_tokens_and_unknown_links_are_refused(local, waiting):
    missing = requests.post(f"{local.gateway_url}/inbox/sign-in", data={"csrf": "abc", "address": waiting[0].phone},
                            headers={"Cookie": f"{FORM}=xyz"}, timeout=30)
    assert missing.status_code == 403
    assert requests.get(f"{local.gateway_url}/inbox/sign-in/{'A' * 22}", timeout=30).status_code == 404
    assert "Send me a sign-in link" in inbox(local, "A" * 22).text  # a forged session: signed out
    forged = requests.get(f"{local.gateway_url}/inbox/c/{waiting[1]}", headers={"Cookie": f"{SESSION}={'A' * 22}"}, allow_redirects=False, timeout=30)
    assert forged.status_code == 303


def test_the_cli_prints_a_sign_in_link_and_removing_the_agent_ends_their_session(local, waiting):
    store = OncallStore(clients.dynamodb(), os.environ["TABLE_NAME"])
    ben = add_agent(store, load_config(store), Agent("ben", "Ben Okafor", unique_number()), utc_now())

    printed = run_cli(["agents", "login-link", "ben", "--json"], local.cli_env())

    assert printed.returncode == 0, printed.stderr
    link = json.loads(printed.stdout)["link"]
    assert link.startswith(f"{local.gateway_url}/inbox/sign-in/")
    session = sign_in(local, link)
    assert "Signed in as Ben Okafor" in inbox(local, session).text
    remove_agent(store, load_config(store), ben.agent_id, utc_now())
    assert "Send me a sign-in link" in inbox(local, session).text


def test_the_local_outbox_shows_the_link_in_each_page_sms(local, waiting):
    ana, conversation_id = waiting
    (page,) = [m for m in drain_outbox() if m["purpose"] == "page"]

    invoke(Template().functions()["SenderFunction"], sqs_event(json.dumps(page)))  # what the local drivers do
    shown = run_cli(["local", "outbox", "--to", ana.phone], local.cli_env())

    assert shown.returncode == 0, shown.stderr
    assert re.search(rf"Reply \d+ ACK or \d+ <answer> {re.escape(local.gateway_url)}/c/[A-Za-z0-9_-]{{22}}", shown.stdout), shown.stdout


def test_in_chromium_the_inbox_reads_on_a_phone(local, waiting, tmp_path):
    ana, conversation_id = waiting
    printed = run_cli(["agents", "login-link", "ana", "--json"], local.cli_env())
    link = json.loads(printed.stdout)["link"]
    with chrome_driver(tmp_path) as chrome:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait

        chrome.get(link)
        chrome.find_element(By.XPATH, "//button[text()='Sign in']").click()
        WebDriverWait(chrome, 15).until(lambda browser: "Waiting on us" in browser.title)
        assert "The app logs me out every five minutes" in chrome.find_element(By.TAG_NAME, "main").text
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        chrome.save_screenshot(str(SCREENSHOT))
        chrome.find_element(By.CSS_SELECTOR, f'a[href="/inbox/c/{conversation_id}"]').click()
        WebDriverWait(chrome, 15).until(lambda browser: browser.find_elements(By.ID, "text"))
        assert "The app logs me out every five minutes" in chrome.find_element(By.CSS_SELECTOR, "ol.stream").text
    image = SCREENSHOT.read_bytes()
    assert image[12:16] == b"IHDR" and struct.unpack(">I", image[16:20])[0] == 390
