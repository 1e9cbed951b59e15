"""Apps built once per pytest process and started afresh by each test.

Building the app (Litestar registering some 160 routes) costs about 0.3 s of CPU, while starting
it — engines, pools, the SQLite worker, the background work, all in its lifespan — costs a
fraction of that and is what a test's state lives in. So a test gets an app already built for
equal settings and the same clock, started and stopped by its own test client; the state the
app object itself carries (``app.state`` and attributes set on the app, such as
``fast_redeem``) is put back as it was built once the test ends.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tessera.app import TesseraApp, create_app
from tessera.core.clock import Clock
from tessera.core.settings import Settings


class BuiltApps:
    """The last ``size`` apps built, by settings (equal values) and clock (the same object)."""

    def __init__(self, size: int = 4) -> None:
        self.size = size
        self._apps: OrderedDict[tuple[Settings, int], tuple[TesseraApp, dict[str, Any], dict[str, Any]]] = (
            OrderedDict()
        )

    @contextmanager
    def app(self, settings: Settings, clock: Clock) -> Iterator[TesseraApp]:
        """An app for ``settings`` and ``clock``, not started; as built again when the block ends."""
        key = (settings, id(clock))  # a cached app holds its clock, so the id stays that clock's
        if key in self._apps:
            self._apps.move_to_end(key)
        else:
            app = create_app(settings, clock)
            self._apps[key] = (app, dict(vars(app)), dict(app.state))
            while len(self._apps) > self.size:
                self._apps.popitem(last=False)
        app, attributes, state = self._apps[key]
        try:
            yield app
        finally:
            vars(app).clear()
            vars(app).update(attributes)
            for name in list(app.state.keys()):
                del app.state[name]
            for name, value in state.items():
                app.state[name] = value
