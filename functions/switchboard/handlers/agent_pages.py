"""The agents' pages, served by the function itself (agent_pages/):

- GET  /c/{token}: the conversation a page SMS links to, with its whole history.
- POST /c/{token} (form: csrf, submission, action ack|reply|resolve|take, text): acts on
  it as the agent's SMS command would (oncall/actions.py), and shows the page again with
  what happened. `submission` is minted with each page: the same form sent twice sends
  nothing twice (it is the action's request id).

GETs change nothing (link scanners open links). A malformed, unknown, expired or revoked
link gets the same 404; a form without its CSRF token gets 403. Tokens never reach a log.
"""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from ulid import ULID

from switchboard.agent_pages.access import Visitor, by_link
from switchboard.agent_pages.conversation_page import STYLE, conversation_page, page_title
from switchboard.agent_pages.conversation_view import presigned_attachments, read_view
from switchboard.link_tokens import csrf_matches, csrf_token
from switchboard.models import utc_now
from switchboard.observability import logger, metrics
from switchboard.oncall.commands import CommandKind
from switchboard.public_page import page
from switchboard.settings import get_settings
from switchboard.store import clients
from switchboard.store.agent_access import AgentAccessStore
from switchboard.store.conversations import ConversationStore
from switchboard.store.customers import CustomerStore
from switchboard.store.oncall import OncallStore
from switchboard.store.pages import PageStore
from switchboard.webhooks import WebhookRequest

settings = get_settings()
MAX_FORM_BYTES = 16384  # an answer of a few thousand characters, percent-encoded
ATTACHMENT_URL_SECONDS = 300  # a presigned attachment link works this long
ACTIONS = {"ack": CommandKind.ACK, "reply": CommandKind.REPLY, "resolve": CommandKind.RESOLVE, "take": CommandKind.TAKE}
_SUBMISSION = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")  # a ULID


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = WebhookRequest.from_api_gateway(event)
    try:
        return _conversation(request)
    except Exception:
        logger.exception("agent page failed")
        return page(503, "Please try again", "<p>Something went wrong on our side. Please try again in a minute.</p>", private=True)


def _conversation(request: WebhookRequest) -> dict[str, Any]:
    now = utc_now()
    dynamodb = clients.dynamodb()
    conversations = ConversationStore(dynamodb, settings.table_name)
    visitor = by_link(
        request.path_parameters.get("token", ""), now, AgentAccessStore(dynamodb, settings.table_name),
        OncallStore(dynamodb, settings.table_name), conversations,
    )
    if visitor is None or visitor.conversation_id is None:
        return _unknown()
    logger.append_keys(agent_id=visitor.agent.agent_id, conversation_id=visitor.conversation_id)
    if not request.route.startswith("POST "):
        return _show(visitor, conversations)
    if len(request.body) > MAX_FORM_BYTES:
        return page(413, "Too long", "<p>That answer is too long to send from here.</p>", private=True)
    form = {name: values[0] for name, values in parse_qs(request.body.decode("utf-8", errors="replace")).items()}
    if not csrf_matches(visitor.secret, _purpose(visitor.conversation_id), form.get("csrf", "")):
        return page(403, "Form expired", "<p>This form is out of date. Open the link again and send it from the fresh page.</p>", private=True)
    kind, submission = ACTIONS.get(form.get("action", "")), form.get("submission", "")
    if kind is None or not _SUBMISSION.fullmatch(submission):
        return page(400, "Unknown action", "<p>Choose Send answer, Acknowledge, Resolve or Take over.</p>", private=True)
    from switchboard.oncall.actions import act  # only a POST needs the desk
    from switchboard.oncall.desk import desk_from

    outcome = act(kind, visitor.conversation_id, visitor.agent, form.get("text", ""), now, desk_from(settings), f"web-{submission}")
    logger.info("agent page action", extra={"action": kind.value})
    metrics.add_metric(name="AgentPageActions", unit=MetricUnit.Count, value=1)
    if outcome.resolved:
        return page(200, "Resolved", f"<p>{html.escape(outcome.text)} This link has done its job.</p>", private=True)
    return _show(visitor, conversations, outcome.text)


def _show(visitor: Visitor, conversations: ConversationStore, outcome: str = "") -> dict[str, Any]:
    dynamodb = clients.dynamodb()
    view = read_view(
        visitor.conversation_id or "", conversations, CustomerStore(dynamodb, settings.table_name), PageStore(dynamodb, settings.table_name),
        presigned_attachments(clients.s3(), ATTACHMENT_URL_SECONDS),
    )
    if view is None:
        return _unknown()
    content = conversation_page(
        view, ZoneInfo(settings.business_time_zone), csrf_token(visitor.secret, _purpose(visitor.conversation_id or "")), str(ULID()), outcome,
    )
    return page(200, page_title(view.conversation), content, STYLE, private=True)


def _purpose(conversation_id: str) -> str:
    return f"conversation:{conversation_id}"


def _unknown() -> dict[str, Any]:
    return page(404, "Link expired", "<p>This link is unknown or has expired, or the conversation is resolved. "
                "The next page SMS brings a fresh one.</p>", private=True)
