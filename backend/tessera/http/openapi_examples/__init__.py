"""Request and answer examples of every operation, for the OpenAPI document.

Each is a real exchange's shape (the contract tests validate every JSON one against its schema).
Answers that are not JSON get a text example where they are text (CSV) and only the description
of their media type otherwise (passes, QR codes, pages): see the routes' ``response_description``.
"""

from __future__ import annotations

from typing import Any

from tessera.http.openapi_examples import campaigns, contests, people, reports, wallet
from tessera.http.openapi_examples.shapes import Examples

EXAMPLES: Examples = {
    **people.EXAMPLES,
    **campaigns.EXAMPLES,
    **contests.EXAMPLES,
    **reports.EXAMPLES,
    **wallet.EXAMPLES,
}


def describe_examples(document: dict[str, Any]) -> None:
    """Put each example on its operation's request body and answers, in the document's JSON
    form (the spec objects would drop the examples' nulls)."""
    for (method, path), (request, answers) in EXAMPLES.items():
        operation = document["paths"].get(path, {}).get(method)
        if operation is None:
            raise LookupError(f"no operation {method.upper()} {path} to give an example")
        if request is not None:
            for media in operation["requestBody"]["content"].values():
                media["examples"] = {"request": {"summary": "A typical request", "value": request}}
        for status, answer in answers.items():
            if status not in operation["responses"]:
                raise LookupError(f"{method.upper()} {path} documents no {status} answer")
            for media in operation["responses"][status].get("content", {}).values():
                media["examples"] = {"answer": {"summary": "Its answer", "value": answer}}
