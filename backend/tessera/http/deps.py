"""Typed names for the dependencies every controller takes (see ``create_app``)."""

from __future__ import annotations

from typing import Annotated

from litestar.di import Dependency

from tessera.auth.principal import Principal
from tessera.http.context import AppContext
from tessera.http.services import Services

Ctx = Annotated[AppContext, Dependency(kind="named")]
Svc = Annotated[Services, Dependency(kind="named")]
Caller = Annotated[Principal, Dependency(kind="named")]
