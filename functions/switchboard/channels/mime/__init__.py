"""Raw email bytes (RFC 5322 / MIME) → ParsedEmail. Pure: no AWS, no clock.

parse_email() never raises anything but UnreadableEmail: a malformed message gives what
could be read, plus `defects`, short notes on what could not. The standard library's
`email` package (policy.default) does the MIME work. Only the standard library is
imported at module level: BeautifulSoup (HTML bodies) and mailparser_reply (quoted
history) are imported where first needed, since they cost tens of milliseconds of cold
start and many messages need neither.

The email channel imports from here: parse_email and its result types. One module per
stage, each importing only modules further down this list:

    parse        parse_email(): the stages in order
    automated    whether a machine wrote the message, and why
    headers      sender, recipients, subject, date, Message-IDs, decoded with their charsets
    attachments  every part that is not the body: filename, type, content, inline
    body         the body part as plain text (charset, HTML, format=flowed)
    parts        the MIME tree: leaf parts, a reread boundary, which leaf is the body
    message      the email package: policy.default, safe reads of a part's content type
    new_text     the customer's new words apart from the quoted history (mail-parser-reply)
    html_text    text from HTML (BeautifulSoup)
    text         normalise_text: the one shape of plain text every stage gives back
    defects      the email package's defects in plain words
    charsets     MIME charset labels, bytes to text
    results      ParsedEmail, ParsedAttachment, UnreadableEmail
"""

from __future__ import annotations

from switchboard.channels.mime.parse import parse_email
from switchboard.channels.mime.results import ParsedAttachment, ParsedEmail, UnreadableEmail

__all__ = ["ParsedAttachment", "ParsedEmail", "UnreadableEmail", "parse_email"]
