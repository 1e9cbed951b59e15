"""uvicorn's HTTP protocol with a graceful shutdown that answers every request already sent.

On SIGTERM uvicorn closes each idle keep-alive connection at once. A request the client had
already written, still unread in the socket's buffer, then meets a closed connection and gets
no answer at all (seen with 64 tills on one busy machine: a few of them). Here an idle
connection stays open ``DRAIN_GRACE`` seconds more: a request that arrives meanwhile is served
with ``Connection: close``, and the connection closes after its answer.
"""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# Long enough for the event loop of a busy machine to read what was in the buffer; the server
# stops that much later only while keep-alive connections are open.
DRAIN_GRACE = 2.0
PROTOCOL = "tessera.http.serving:DrainingHttpProtocol"  # uvicorn's ``http`` option


class DrainingHttpProtocol(HttpToolsProtocol):
    _draining = False

    def shutdown(self) -> None:
        self._draining = True
        if self.cycle is None or self.cycle.response_complete:
            self.loop.call_later(DRAIN_GRACE, self._close_if_idle)
        else:
            self.cycle.keep_alive = False

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        if self._draining and self.cycle is not None:
            self.cycle.keep_alive = False  # answered with ``Connection: close``, then closed

    def _close_if_idle(self) -> None:
        if self.cycle is None or self.cycle.response_complete:
            self.transport.close()
