"""Defects: the email package's notes on what it could not read, as short plain words."""

from __future__ import annotations

import re


# Plain words for the email package's defects; other class names are spelled out.
DEFECT_WORDS = {
    "CloseBoundaryNotFoundDefect": "missing closing boundary",
    "StartBoundaryNotFoundDefect": "declared boundary not found",
    "NoBoundaryInMultipartDefect": "multipart without a boundary",
    "MultipartInvariantViolationDefect": "multipart without parts",
    "MissingHeaderBodySeparatorDefect": "missing blank line after the headers",
    "FirstHeaderLineIsContinuationDefect": "first header line is a continuation",
    "MisplacedEnvelopeHeaderDefect": "misplaced mbox From line",
    "InvalidBase64PaddingDefect": "truncated base64",
    "InvalidBase64CharactersDefect": "invalid characters in base64",
    "InvalidBase64LengthDefect": "truncated base64 (incomplete last group dropped)",
    "InvalidMultipartContentTransferEncodingDefect": "transfer encoding on a multipart",
    "UndecodableBytesDefect": "undecodable bytes",
    "NonPrintableDefect": "non-printable characters",
    "InvalidDateDefect": "invalid date",
    "HeaderMissingRequiredValue": "empty value",
}
# Old but valid syntax: nothing is lost.
IGNORED_DEFECTS = frozenset({"ObsoleteHeaderDefect"})
# Encoded words where RFC 2047 does not allow them: decoded anyway, nothing is lost.
IGNORED_HEADER_NOTES = frozenset(
    {
        "encoded word inside quoted string",
        "missing trailing whitespace after encoded-word",
        "missing whitespace before encoded word",
    }
)
_CAMEL_CASE_WORD = re.compile(r"(?<!^)(?=[A-Z])")


def _describe(defect: Exception) -> str | None:
    name = type(defect).__name__
    if name in IGNORED_DEFECTS:
        return None
    if name == "InvalidHeaderDefect" and str(defect):
        # The message is what says something ("missing '.' between words"), unless benign.
        return None if str(defect) in IGNORED_HEADER_NOTES else str(defect)
    return DEFECT_WORDS.get(name) or _CAMEL_CASE_WORD.sub(" ", name.removesuffix("Defect")).lower()


def add_defects(defects: list[str], where: str, found: object) -> None:
    for defect in found or ():  # type: ignore[attr-defined]
        described = _describe(defect)
        if described:
            defects.append(f"{where}: {described}" if where else described)
