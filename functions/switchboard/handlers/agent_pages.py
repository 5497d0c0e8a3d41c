"""The agents' pages, served by the function itself (agent_pages/):

- GET  /c/{token}: the conversation a page SMS links to, with its whole history.
- POST /c/{token} (form: csrf, submission, action ack|reply|resolve|take, text): acts on
  it as the agent's SMS command would (oncall/actions.py), and shows the page again with
  what happened. `submission` is minted with each page: the same form sent twice sends
  nothing twice (it is the action's request id).
- GET  /inbox: the conversations waiting on us (signed in), or the sign-in form.
- GET|POST /inbox/c/{conversation}: a conversation's page for a signed-in agent.
- POST /inbox/sign-in (form: address): a one-time sign-in link to that agent's phone or
  email; the same answer whoever typed what. GET /inbox/sign-in/{token} asks to confirm,
  its POST opens the session (cookie: HttpOnly, Secure, SameSite=Strict).
- POST /inbox/sign-out.

GETs change nothing (link scanners open links); every POST carries a CSRF token. A
malformed, unknown, expired or revoked token gets the same answer. Tokens never reach a log.
"""

from __future__ import annotations

import html
import re
import secrets
from datetime import datetime, timedelta
from typing import Any, Callable
from zoneinfo import ZoneInfo

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from ulid import ULID

from switchboard.agent_pages.access import Visitor, by_link, by_session
from switchboard.agent_pages.conversation_page import STYLE, conversation_page, page_title
from switchboard.agent_pages.conversation_view import presigned_attachments, read_view
from switchboard.link_tokens import csrf_matches, csrf_token
from switchboard.models import utc_now
from switchboard.observability import logger, metrics
from switchboard.public_page import form_fields, page
from switchboard.settings import get_settings
from switchboard.store import clients
from switchboard.store.agent_access import AgentAccessStore
from switchboard.store.conversations import ConversationStore
from switchboard.store.oncall import OncallStore
from switchboard.webhooks import WebhookRequest

settings = get_settings()
MAX_FORM_BYTES = 16384  # an answer of a few thousand characters, percent-encoded
ATTACHMENT_URL_SECONDS = 300  # a presigned attachment link works this long
ACTIONS = {"ack": "ACK", "reply": "REPLY", "resolve": "RESOLVE", "take": "TAKE"}  # the form's action → its CommandKind
_SUBMISSION = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")  # a ULID
# `__Host-`: the browser keeps these only from a secure origin, for the whole site, no Domain.
SESSION_COOKIE = "__Host-switchboard-session"
FORM_COOKIE = "__Host-switchboard-form"  # the sign-in form's CSRF token (double submit)
SIGN_IN_SENT = (
    "<p>If that is the phone number or email address of one of our agents, a sign-in link is on its way. "
    "It works once, for a few minutes.</p>"
)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = WebhookRequest.from_api_gateway(event)
    route = ROUTES.get(request.route)
    try:
        return route(request, utc_now()) if route else _private(404, "Not found", "<p>There is no such page.</p>")
    except Exception:
        logger.exception("agent page failed")
        return _private(503, "Please try again", "<p>Something went wrong on our side. Please try again in a minute.</p>")


# ---- a conversation's page, by link or signed in ------------------------------------------


def _link_page(request: WebhookRequest, now: datetime) -> dict[str, Any]:
    visitor = by_link(request.path_parameters.get("token", ""), now, _access(), _oncall(), _conversations())
    return _conversation(request, visitor, visitor.conversation_id if visitor else None, now)


def _session_page(request: WebhookRequest, now: datetime) -> dict[str, Any]:
    visitor = _signed_in(request, now)
    if visitor is None:
        return _see_other("/inbox")
    route = _conversations().follow_conversation(request.path_parameters.get("conversation", "")[:40])
    return _conversation(request, visitor, route.conversation_id if route else None, now)


def _conversation(request: WebhookRequest, visitor: Visitor | None, conversation_id: str | None, now: datetime) -> dict[str, Any]:
    if visitor is None or conversation_id is None:
        return _unknown()
    logger.append_keys(agent_id=visitor.agent.agent_id, conversation_id=conversation_id)
    if not request.route.startswith("POST "):
        return _show(visitor, conversation_id)
    form = _form(request)
    if form is None:
        return _private(413, "Too long", "<p>That answer is too long to send from here.</p>")
    if not csrf_matches(visitor.secret, _purpose(conversation_id), form.get("csrf", "")):
        return _private(403, "Form expired", "<p>This form is out of date. Open the page again and send it from there.</p>")
    action, submission = ACTIONS.get(form.get("action", "")), form.get("submission", "")
    if action is None or not _SUBMISSION.fullmatch(submission):
        return _private(400, "Unknown action", "<p>Choose Send answer, Acknowledge, Resolve or Take over.</p>")
    from switchboard.oncall.actions import act  # only a POST needs the desk
    from switchboard.oncall.commands import CommandKind
    from switchboard.oncall.desk import desk_from

    kind = CommandKind[action]

    outcome = act(kind, conversation_id, visitor.agent, form.get("text", ""), now, desk_from(settings), f"web-{submission}")
    logger.info("agent page action", extra={"action": kind.value})
    metrics.add_metric(name="AgentPageActions", unit=MetricUnit.Count, value=1)
    if outcome.resolved:
        back = '<p><a href="/inbox">Back to the inbox</a></p>' if visitor.conversation_id is None else "<p>This link has done its job.</p>"
        return _private(200, "Resolved", f"<p>{html.escape(outcome.text)}</p>{back}")
    return _show(visitor, conversation_id, outcome.text)


def _show(visitor: Visitor, conversation_id: str, outcome: str = "") -> dict[str, Any]:
    from switchboard.store.customers import CustomerStore
    from switchboard.store.pages import PageStore

    dynamodb = clients.dynamodb()
    view = read_view(
        conversation_id, _conversations(), CustomerStore(dynamodb, settings.table_name), PageStore(dynamodb, settings.table_name),
        presigned_attachments(clients.s3(), ATTACHMENT_URL_SECONDS),
    )
    if view is None:
        return _unknown()
    csrf = csrf_token(visitor.secret, _purpose(conversation_id))
    signed_in = visitor.conversation_id is None
    content = conversation_page(view, ZoneInfo(settings.business_time_zone), csrf, str(ULID()), outcome, signed_in)
    if signed_in:
        content = '<p class="sub"><a href="/inbox">← Inbox</a></p>' + content
    return page(200, page_title(view.conversation), content, STYLE, private=True)


# ---- the inbox and signing in ---------------------------------------------------------------


def _inbox(request: WebhookRequest, now: datetime) -> dict[str, Any]:
    visitor = _signed_in(request, now)
    if visitor is None:
        return _sign_in_form()
    from switchboard.agent_pages.inbox import STYLE as INBOX_STYLE
    from switchboard.agent_pages.inbox import inbox_page, read_inbox
    from switchboard.oncall.config import load_config
    from switchboard.store.pages import PageStore

    inbox = read_inbox(visitor.agent.agent_id, now, _conversations(), PageStore(clients.dynamodb(), settings.table_name), load_config(_oncall()))
    content = inbox_page(inbox, visitor.agent.name, now, csrf_token(visitor.secret, "sign-out"))
    return page(200, "Waiting on us", content, INBOX_STYLE, private=True)


def _sign_in_form(note: str = "", status: int = 200) -> dict[str, Any]:
    form_token = secrets.token_urlsafe(16)
    content = (
        f"{note}<form method=\"post\" action=\"/inbox/sign-in\"><input type=\"hidden\" name=\"csrf\" value=\"{form_token}\">"
        '<p><label for="address">Your phone number or email address, as the team has it</label><br>'
        '<input id="address" name="address" type="text" autocomplete="username" required maxlength="254" style="width:100%;font:inherit"></p>'
        '<p><button type="submit">Send me a sign-in link</button></p></form>'
    )
    response = page(status, "Sign in", content, private=True)
    response["cookies"] = [_cookie(FORM_COOKIE, form_token, timedelta(hours=1))]
    return response


def _request_sign_in(request: WebhookRequest, now: datetime) -> dict[str, Any]:
    form = _form(request) or {}
    expected = request.cookies.get(FORM_COOKIE, "")
    if not expected or not secrets.compare_digest(expected, form.get("csrf", "")):
        return _sign_in_form('<p class="mark">That form had expired; here is a fresh one.</p>', 403)
    from switchboard.agent_pages.sign_in import request_link

    wait = request_link(form.get("address", ""), request.source_ip, now, _sign_in_desk())
    if wait is not None:
        response = _private(429, "Too many requests", f"<p>Too many sign-in requests. Try again in {wait // 60 + 1} minutes.</p>")
        response["headers"]["Retry-After"] = str(wait)
        return response
    metrics.add_metric(name="SignInRequests", unit=MetricUnit.Count, value=1)
    return _private(202, "Check your phone or email", SIGN_IN_SENT)


def _sign_in_page(request: WebhookRequest, now: datetime) -> dict[str, Any]:
    from switchboard.agent_pages.sign_in import link_holder

    token = request.path_parameters.get("token", "")
    agent = link_holder(token, now, _sign_in_desk())
    if agent is None:
        return _expired_sign_in()
    content = (
        f"<p>Sign in as {html.escape(agent.name)}?</p><form method=\"post\">"
        f'<input type="hidden" name="csrf" value="{csrf_token(token, "sign-in")}"><button type="submit">Sign in</button></form>'
    )
    return _private(200, "Sign in", content)


def _sign_in(request: WebhookRequest, now: datetime) -> dict[str, Any]:
    from switchboard.agent_pages.sign_in import open_session

    token = request.path_parameters.get("token", "")
    form = _form(request) or {}
    if not csrf_matches(token, "sign-in", form.get("csrf", "")):
        return _private(403, "Form expired", "<p>Open the sign-in link again and press the button there.</p>")
    opened = open_session(token, now, _sign_in_desk())
    if opened is None:
        return _expired_sign_in()
    agent, session = opened
    logger.info("agent signed in", extra={"agent_id": agent.agent_id})
    metrics.add_metric(name="AgentSignIns", unit=MetricUnit.Count, value=1)
    response = _see_other("/inbox")
    response["cookies"] = [_cookie(SESSION_COOKIE, session, timedelta(hours=settings.agent_session_hours))]
    return response


def _sign_out(request: WebhookRequest, now: datetime) -> dict[str, Any]:
    from switchboard.link_tokens import token_digest

    visitor = _signed_in(request, now)
    form = _form(request) or {}
    if visitor is not None and csrf_matches(visitor.secret, "sign-out", form.get("csrf", "")):
        _access().end_session(token_digest(visitor.secret))
    response = _see_other("/inbox")
    response["cookies"] = [_cookie(SESSION_COOKIE, "", timedelta(0))]
    return response


def _expired_sign_in() -> dict[str, Any]:
    return _private(404, "Link expired", '<p>This sign-in link is unknown, used or expired. <a href="/inbox">Ask for a new one</a>.</p>')


def _signed_in(request: WebhookRequest, now: datetime) -> Visitor | None:
    session = request.cookies.get(SESSION_COOKIE, "")
    return by_session(session, now, _access(), _oncall()) if session else None


# ---- plumbing ---------------------------------------------------------------------------------


def _sign_in_desk():
    from switchboard.agent_pages.sign_in import SignIn

    return SignIn.from_settings(settings, clients.dynamodb(), clients.sqs())


def _access() -> AgentAccessStore:
    return AgentAccessStore(clients.dynamodb(), settings.table_name)


def _oncall() -> OncallStore:
    return OncallStore(clients.dynamodb(), settings.table_name)


def _conversations() -> ConversationStore:
    return ConversationStore(clients.dynamodb(), settings.table_name)


def _form(request: WebhookRequest) -> dict[str, str] | None:
    if len(request.body) > MAX_FORM_BYTES:
        return None
    return form_fields(request.body)


def _purpose(conversation_id: str) -> str:
    return f"conversation:{conversation_id}"


def _cookie(name: str, value: str, lasts: timedelta) -> str:
    return f"{name}={value}; Path=/; Max-Age={int(lasts.total_seconds())}; HttpOnly; Secure; SameSite=Strict"


def _see_other(location: str) -> dict[str, Any]:
    response = _private(303, "Moved", f'<p><a href="{location}">Continue</a></p>')
    response["headers"]["Location"] = location
    return response


def _private(status: int, title: str, content: str) -> dict[str, Any]:
    return page(status, title, content, private=True)


def _unknown() -> dict[str, Any]:
    return _private(404, "Link expired", "<p>This link is unknown or has expired, or the conversation is resolved. "
                    "The next page SMS brings a fresh one.</p>")


ROUTES: dict[str, Callable[[WebhookRequest, datetime], dict[str, Any]]] = {
    "GET /c/{token}": _link_page,
    "POST /c/{token}": _link_page,
    "GET /inbox": _inbox,
    "GET /inbox/c/{conversation}": _session_page,
    "POST /inbox/c/{conversation}": _session_page,
    "POST /inbox/sign-in": _request_sign_in,
    "GET /inbox/sign-in/{token}": _sign_in_page,
    "POST /inbox/sign-in/{token}": _sign_in,
    "POST /inbox/sign-out": _sign_out,
}
