"""The public satisfaction links in our "how did we do?" email (conversations/satisfaction.py).

- GET  /rate/{token}?score=N: a page with the score chosen, a field for an optional
  comment and a "Send" button. It records nothing: mail scanners follow links.
- POST /rate/{token} (form: score, comment): records the rating on the conversation; a
  later POST from the same link replaces it (a customer may change their mind).

An unknown, expired and malformed link get the same answer. The function reads only
survey links and writes only conversation summaries (its policy in template.yaml).
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import parse_qs

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from switchboard.conversations.satisfaction import MAX_COMMENT_LENGTH, SCORE_WORDS, SCORES, link_rating, rated_by_link
from switchboard.models import utc_now
from switchboard.observability import logger, metrics
from switchboard.public_page import form_fields, page
from switchboard.settings import get_settings
from switchboard.store import clients
from switchboard.store.conversations import ConversationStore
from switchboard.webhooks import WebhookRequest

settings = get_settings()
MAX_FORM_BYTES = 8192  # a comment of MAX_COMMENT_LENGTH characters, percent-encoded
_STYLE = "label{display:block;margin:.3rem 0}textarea{width:100%;font:inherit}"


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = WebhookRequest.from_api_gateway(event)
    token = request.path_parameters.get("token", "")
    store = ConversationStore(clients.dynamodb(), settings.table_name)
    try:
        if request.route.startswith("GET "):
            return _form(token, _score(parse_qs(request.query).get("score", [""])[0]), store)
        return _record(token, request.body, store)
    except Exception:
        logger.exception("satisfaction link failed")
        return page(503, "Please try again", "<p>Something went wrong on our side. Please try again in a minute.</p>")


def _form(token: str, score: int | None, store: ConversationStore) -> dict[str, Any]:
    if rated_by_link(token, utc_now(), store) is None:
        return _unknown()
    choices = "".join(
        f'<label><input type="radio" name="score" value="{value}" required{" checked" if value == score else ""}> '
        f"{value} ({SCORE_WORDS[value]})</label>"
        for value in reversed(SCORES)
    )
    form = (
        f'<form method="post"><fieldset><legend>Your rating</legend>{choices}</fieldset>'
        f'<p><label for="comment">Anything you would like to add? (optional)</label>'
        f'<textarea id="comment" name="comment" rows="4" maxlength="{MAX_COMMENT_LENGTH}"></textarea></p>'
        '<button type="submit">Send</button></form>'
    )
    return page(200, f"How did {settings.brand_name} do?", form, _STYLE)


def _record(token: str, body: bytes, store: ConversationStore) -> dict[str, Any]:
    if len(body) > MAX_FORM_BYTES:
        return page(413, "Too long", f"<p>That comment was too long: at most {MAX_COMMENT_LENGTH} characters.</p>")
    form = form_fields(body)
    score = _score(form.get("score", ""))
    if score is None:
        return page(400, "Pick a score", "<p>Choose a rating from 1 (poor) to 5 (great), then send it again.</p>")
    rating = link_rating(token, score, form.get("comment", ""), utc_now(), store)
    if rating is None:
        return _unknown()
    logger.info("rating", extra={"score": rating.score, "comment": bool(rating.comment)})
    metrics.add_dimension(name="channel", value=rating.channel)
    metrics.add_metric(name="Ratings", unit=MetricUnit.Count, value=1)
    return page(200, "Thank you", f"<p>We have your {rating.score} out of 5. It helps {html.escape(settings.brand_name)} get better.</p>")


def _score(text: str) -> int | None:
    return int(text) if text in {str(value) for value in SCORES} else None


def _unknown() -> dict[str, Any]:
    return page(404, "Link expired", "<p>This rating link is unknown or has expired. Thank you all the same.</p>")
