"""The conversation page an agent opens from the link in a page SMS (handlers/agent_pages.py),
on the local stack: the whole history across channels, and acting on it as an SMS command
would; then the same in headless Chromium (Debian's chromium, driven through its
chromedriver), with a phone-size screenshot kept in tests/artifacts/.
"""

from __future__ import annotations

import os
import re
import struct
from datetime import datetime, timedelta
from email.message import EmailMessage
from html.parser import HTMLParser

import boto3
import pytest
import requests

from conftest_helpers import chrome_driver, drain_agent_messages, drain_outbox, put_on_call, route_message, run_cli, unique_number
from local_stack.invoke import invoke
from local_stack.paths import REPO_ROOT
from local_stack.send import new_ses_message_id, ses_receipt_event, twilio_sms_form
from local_stack.stack import LOCAL_SUPPORT_EMAIL
from local_stack.template import Template
from switchboard.link_tokens import new_token, token_digest
from switchboard.models import Direction, Identity, IdentityKind, utc_now
from switchboard.oncall.config import add_agent, load_config, sign_out_everywhere
from switchboard.oncall.schedule import Agent
from switchboard.store.agent_access import AgentAccessStore, Grant
from switchboard.store.mail import MailStore
from switchboard.store.oncall import OncallStore
from switchboard.store.pages import PageStatus, PageStore

pytestmark = pytest.mark.integration
SCREENSHOT = REPO_ROOT / "tests" / "artifacts" / "agent_conversation_page.png"
LINK = re.compile(r"https?://\S+/c/[A-Za-z0-9_-]{22}")


def table():
    return boto3.client("dynamodb"), os.environ["TABLE_NAME"]


def customer_emails(local, address: str) -> str:
    """Grace writes by email, with an attachment; stored and routed: the conversation id."""
    email = EmailMessage()
    email["From"], email["To"], email["Subject"] = f"Grace Hopper <{address}>", LOCAL_SUPPORT_EMAIL, "Refund for order 1042"
    email["Message-ID"] = f"<refund-{address}>"
    email.set_content("Where is my refund? The receipt is attached.")
    email.add_attachment(b"%PDF-1.4 receipt", maintype="application", subtype="pdf", filename="receipt.pdf")
    ses_id = new_ses_message_id()
    MailStore(boto3.client("s3"), os.environ["MAIL_BUCKET"], "inbound/").put_raw(ses_id, bytes(email))
    event = ses_receipt_event(bytes(email), ses_id, [LOCAL_SUPPORT_EMAIL], received_at=datetime.now().astimezone())
    (stored,) = invoke(Template().functions()["EmailFunction"], event)["messages"]
    route_message(stored["conversation_id"], ses_id)
    return stored["conversation_id"]


@pytest.fixture
def paged(local):
    """Grace wrote by email, then by SMS from her phone, and the two are one customer; Ana,
    on call, got the page SMS with its link: (ana, the link, the conversation id, her address).
    Her email's conversation absorbed her SMS's, so answers go to her by email, threaded."""
    ana = put_on_call()
    address, number = f"grace.{unique_number()[-6:]}@customer.example", unique_number()
    customer_emails(local, address)
    (page_sms,) = [m for m in drain_agent_messages() if m["purpose"] == "page"]
    form = twilio_sms_form(number, "Also: my card was charged twice for it")
    assert local.post_sms(form).status_code == 200
    sms_conversation = local.conversations().find_identity(Identity(IdentityKind.PHONE, number), consistent=True).conversation_id
    route_message(sms_conversation, form["MessageSid"])
    assert run_cli(["customers", "link", address, number], local.cli_env()).returncode == 0
    drain_outbox()
    (link,) = LINK.findall(page_sms["body"])
    conversation_id = local.conversations().find_identity(Identity(IdentityKind.EMAIL, address), consistent=True).conversation_id
    return ana, link, conversation_id, address


class Form(HTMLParser):
    """The hidden fields of each form on a page, by the action it does."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.forms: dict[str, dict[str, str]] = {}
        self._fields: dict[str, str] = {}
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "form":
            self._fields = {}
        if tag == "input" and attributes.get("type") == "hidden":
            self._fields[attributes["name"]] = attributes.get("value", "")
            if attributes["name"] == "action":
                self.forms[attributes["value"]] = self._fields


def test_the_page_sms_links_to_a_page_with_the_whole_history_across_channels(local, paged):
    ana, link, conversation_id, address = paged

    shown = requests.get(link, timeout=30)

    assert shown.status_code == 200
    headers = shown.headers
    assert headers["Cache-Control"] == "no-store" and headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Robots-Tag"].startswith("noindex") and "script" not in headers["Content-Security-Policy"]
    assert headers["Content-Security-Policy"].startswith("default-src 'none'")
    page = shown.text
    assert "<script" not in page.lower() and len(page.encode()) < 30_000
    # Both channels, in order, with what each carried.
    assert page.index("Where is my refund?") < page.index("Also: my card was charged twice for it")
    assert "Refund for order 1042" in page and "receipt.pdf" in page and address in page
    assert re.search(r"<li>Phone \+\d+</li>", page), "both of her identities"
    # The attachment through a short-lived presigned URL of our bucket.
    (attachment,) = re.findall(r'href="([^"]*receipt\.pdf[^"]*)"', page)
    assert "Signature" in attachment and "Expires" in attachment
    assert requests.get(attachment.replace("&amp;", "&"), timeout=30).content == b"%PDF-1.4 receipt"
    # The page's state: who was paged.
    assert "paged: ana" in page
    # A GET changed nothing: the page is still open, nobody acknowledged it.
    assert PageStore(*table()).get_page(conversation_id).status == PageStatus.OPEN


def test_an_answer_from_the_page_reaches_the_customer_once_however_often_the_form_is_sent(local, paged):
    ana, link, conversation_id, address = paged
    fields = Form(requests.get(link, timeout=30).text).forms["reply"]

    first = requests.post(link, data={**fields, "text": "Refunded today, sorry for the wait."}, timeout=30)
    again = requests.post(link, data={**fields, "text": "Refunded today, sorry for the wait."}, timeout=30)

    assert first.status_code == 200 and "Sent to" in first.text
    assert again.status_code == 200 and "Already sent" in again.text
    sent = [m for m in drain_outbox() if m.get("purpose") == "customer_reply"]
    assert {m["idempotency_key"] for m in sent} == {sent[0]["idempotency_key"]}  # the sender sends one key once
    assert (sent[0]["channel"], sent[0]["to"], sent[0]["body"]) == ("email", address, "Refunded today, sorry for the wait.")
    assert sent[0]["email"]["in_reply_to"].strip("<>") == f"refund-{address}"  # threaded under her email
    answers = [m for m in local.conversations().get_conversation(conversation_id).messages if m.direction is Direction.OUTBOUND]
    assert [(m.body, m.sender.value) for m in answers if m.provider == "agent-reply"] == [("Refunded today, sorry for the wait.", "ana")]
    assert "Refunded today" in first.text  # the page shows it in the stream


def test_a_form_without_its_csrf_token_or_from_another_page_is_refused(local, paged):
    ana, link, conversation_id, address = paged
    fields = Form(requests.get(link, timeout=30).text).forms["reply"]

    missing = requests.post(link, data={**fields, "csrf": "", "text": "hi"}, timeout=30)
    forged = requests.post(link, data={**fields, "csrf": "0" * 32, "text": "hi"}, timeout=30)

    assert missing.status_code == 403 and forged.status_code == 403
    assert [m for m in drain_outbox() if m.get("purpose") == "customer_reply"] == []


def test_forged_expired_and_revoked_links_get_the_same_answer(local, paged):
    ana, link, conversation_id, address = paged
    client, name = table()
    access = AgentAccessStore(client, name)
    base = link.rsplit("/c/", 1)[0]
    now = utc_now()
    expired = new_token()
    access.put_link(token_digest(expired), Grant("ana", now - timedelta(hours=30), now - timedelta(hours=6), conversation_id))

    answers = [requests.get(url, timeout=30) for url in (f"{base}/c/{new_token()}", f"{base}/c/{expired}", f"{base}/c/..%2F..", f"{base}/c/{'x' * 300}")]

    assert {(a.status_code, a.text) for a in answers} == {(404, answers[0].text)}
    # Signed out everywhere: the link in the SMS stops working.
    store = OncallStore(client, name)
    sign_out_everywhere(store, load_config(store), "ana", utc_now())
    assert requests.get(link, timeout=30).status_code == 404


def test_an_agent_acts_only_on_what_was_paged_to_them_unless_they_take_it_over(local, paged):
    ana, link, conversation_id, address = paged
    client, name = table()
    store = OncallStore(client, name)
    ben = add_agent(store, load_config(store), Agent("ben", "Ben Okafor", unique_number()), utc_now())
    token = new_token()
    AgentAccessStore(client, name).put_link(token_digest(token), Grant(ben.agent_id, utc_now(), utc_now() + timedelta(hours=1), conversation_id))
    bens_link = f"{link.rsplit('/c/', 1)[0]}/c/{token}"
    fields = Form(requests.get(bens_link, timeout=30).text).forms

    refused = requests.post(bens_link, data={**fields["reply"], "text": "Ben here"}, timeout=30)
    assert "you are not on call: nothing done" in refused.text
    assert [m for m in drain_outbox() if m.get("purpose") == "customer_reply"] == []

    taken = requests.post(bens_link, data=fields["take"], timeout=30)
    assert "is yours now" in taken.text
    fresh = Form(taken.text).forms["reply"]
    assert "Sent to" in requests.post(bens_link, data={**fresh, "text": "Ben here, on it"}, timeout=30).text
    stream = local.conversations().get_conversation(conversation_id).messages
    assert any("Ben Okafor took this conversation over" in m.body for m in stream)


def test_resolving_from_the_page_ends_its_link(local, paged):
    ana, link, conversation_id, address = paged
    fields = Form(requests.get(link, timeout=30).text).forms["resolve"]

    resolved = requests.post(link, data=fields, timeout=30)

    assert resolved.status_code == 200 and "resolved" in resolved.text
    assert local.conversations().get_summary(conversation_id).status.value == "resolved"
    assert requests.get(link, timeout=30).status_code == 404


# ---- in a real browser --------------------------------------------------------------------


@pytest.fixture
def chrome(tmp_path):
    with chrome_driver(tmp_path) as browser:
        yield browser


def test_in_chromium_the_agent_reads_the_history_answers_and_the_customer_gets_it(local, paged, chrome):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    ana, link, conversation_id, address = paged
    chrome.get(link)
    text = chrome.find_element(By.TAG_NAME, "main").text
    assert text.index("Where is my refund?") < text.index("Also: my card was charged twice for it")
    assert "Refund for order 1042" in text and "receipt.pdf" in text

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    chrome.save_screenshot(str(SCREENSHOT))
    image = SCREENSHOT.read_bytes()
    assert image[12:16] == b"IHDR" and struct.unpack(">I", image[16:20])[0] == 390 and len(image) > 20_000

    chrome.find_element(By.ID, "text").send_keys("Your refund left today.")
    chrome.find_element(By.XPATH, "//button[text()='Send answer']").click()
    # The answer's page replaces this one once the POST is answered.
    (outcome,) = WebDriverWait(chrome, 15).until(lambda browser: browser.find_elements(By.CSS_SELECTOR, "p.outcome"))
    assert "Sent to" in outcome.text
    assert "Your refund left today." in chrome.find_element(By.CSS_SELECTOR, "ol.stream").text
    (sent,) = [m for m in drain_outbox() if m.get("purpose") == "customer_reply"]
    assert (sent["channel"], sent["to"], sent["body"]) == ("email", address, "Your refund left today.")
