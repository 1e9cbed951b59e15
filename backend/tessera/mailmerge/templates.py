"""Message templates: parsed once per request, rendered once per recipient.

Anything between ``{{`` and ``}}`` is a placeholder and must be one Tessera knows; text outside
is copied as it is. Parsing happens before any code is issued, so a typo refuses the request.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from tessera.campaigns.slugs import MAX_SLUG_LENGTH
from tessera.core.errors import InvalidValue

COUPON_KINDS = ("coupon", "coupon_url", "wallet_link")
MAX_CAMPAIGNS = 10
_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_COUPON = re.compile(rf"^\s*({'|'.join(COUPON_KINDS)})\s*:\s*([a-z0-9]+(?:-[a-z0-9]+)*)\s*$")
_NAME = re.compile(r"^\s*name\s*$")


class InvalidTemplate(InvalidValue):
    code = "invalid_template"
    title = "The message template is not valid"


@dataclass(frozen=True, slots=True)
class Slot:
    """A placeholder: ``kind`` is ``name`` or one of ``COUPON_KINDS`` (then with a ``slug``)."""

    kind: str
    slug: str | None = None


Part = str | Slot


@dataclass(frozen=True, slots=True)
class CouponValues:
    code_display: str
    coupon_url: str
    wallet_link: str


@dataclass(frozen=True, slots=True)
class Template:
    parts: tuple[Part, ...]
    escape: Callable[[str], str]

    def render(self, name: str, coupons: Mapping[str, CouponValues]) -> str:
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            elif part.kind == "name":
                out.append(self.escape(name))
            else:
                values = coupons[part.slug or ""]
                if part.kind == "coupon":
                    out.append(self.escape(values.code_display))
                elif part.kind == "coupon_url":
                    out.append(self.escape(values.coupon_url))
                else:
                    out.append(self.escape(values.wallet_link))
        return "".join(out)

    @property
    def slugs(self) -> list[str]:
        return [part.slug for part in self.parts if isinstance(part, Slot) and part.slug is not None]


def _plain(text: str) -> str:
    return text


def _html(text: str) -> str:
    return html.escape(text, quote=True)


def parse(text: str, field: str, *, html_format: bool = False) -> Template:
    """The template's parts, or ``InvalidTemplate`` (400) naming the first unknown placeholder."""
    parts: list[Part] = []
    position = 0
    for match in _PLACEHOLDER.finditer(text):
        if match.start() > position:
            parts.append(text[position : match.start()])
        inner = match.group(1)
        coupon = _COUPON.match(inner)
        if coupon is not None and len(coupon.group(2)) <= MAX_SLUG_LENGTH:
            parts.append(Slot(coupon.group(1), coupon.group(2)))
        elif _NAME.match(inner):
            parts.append(Slot("name"))
        else:
            shown = match.group(0) if len(match.group(0)) <= 80 else match.group(0)[:77] + "..."
            raise InvalidTemplate(
                f"Unknown placeholder {shown}; known: {{{{coupon:SLUG}}}}, {{{{coupon_url:SLUG}}}}, "
                "{{wallet_link:SLUG}}, {{name}}",
                field=field,
                placeholder=shown,
            )
        position = match.end()
    if position < len(text):
        parts.append(text[position:])
    return Template(tuple(parts), _html if html_format else _plain)


def campaign_slugs(*templates: Template | None) -> list[str]:
    """The campaigns the templates name, in order of first mention; at least one, at most ten."""
    slugs = list(dict.fromkeys(slug for t in templates if t is not None for slug in t.slugs))
    if not slugs:
        raise InvalidTemplate(
            "The template names no coupon: use {{coupon:SLUG}}, {{coupon_url:SLUG}} or {{wallet_link:SLUG}}",
            field="template.body",
        )
    if len(slugs) > MAX_CAMPAIGNS:
        raise InvalidTemplate(f"A template may name at most {MAX_CAMPAIGNS} campaigns", field="template")
    return slugs
