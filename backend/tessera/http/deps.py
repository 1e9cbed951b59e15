"""Typed names for the dependencies most controllers take (see ``create_app``).

A service is declared by the handler that uses it, under its own name and class
(``campaigns: NamedDependency[CampaignService]``), so a controller imports only its own.
"""

from __future__ import annotations

from litestar.di import NamedDependency

from tessera.auth.principal import Principal
from tessera.http.context import AppContext

Ctx = NamedDependency[AppContext]
Caller = NamedDependency[Principal]
