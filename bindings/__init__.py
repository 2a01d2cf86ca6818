"""libchatty's bindings: thin drivers that run the sans-I/O core over real transports.

* :mod:`libchatty.bindings.blocking` -- ``Client`` over blocking sockets;
* :mod:`libchatty.bindings.threads` -- ``ThreadedClient``: calls on worker threads,
  ``concurrent.futures.Future`` results and a bounded event queue;
* :mod:`libchatty.bindings.trio` -- ``AsyncClient`` on trio;
* :mod:`libchatty.bindings.asyncio` -- ``AsyncClient`` on asyncio;
* :mod:`libchatty.bindings.server` -- the local replay server;
* :mod:`libchatty.bindings.cli` -- the ``libchatty`` command.

All clients share one request loop (``_driver``: connect, send, read, feed the ``Call``,
deliver; retries, fallback, timeouts, keep-alive, proxies) and one set of public types
(``_api``: ``Completion``, ``Timeout``, ``STOP``). Nothing is imported here, so importing a
binding costs only what that binding needs.
"""
