"""libchatty's bindings: thin drivers that run the sans-I/O core over real transports.

* :mod:`libchatty.bindings.blocking` -- ``Client`` over blocking sockets (the backend:
  ``_sockets``);
* :mod:`libchatty.bindings.threads` -- ``ThreadedClient``: calls on worker threads,
  ``concurrent.futures.Future`` results and a bounded event queue;
* :mod:`libchatty.bindings.trio` -- ``AsyncClient`` on trio (its streams: ``_trio_streams``);
* :mod:`libchatty.bindings.asyncio` -- ``AsyncClient`` on asyncio (its protocol, with the
  optional read interval: ``_asyncio_protocol``);
* :mod:`libchatty.bindings.httpx` -- ``Client``/``AsyncClient`` over an httpx client
  (HTTP/1.1 or HTTP/2); :mod:`libchatty.bindings.aiohttp` -- ``AsyncClient`` over an
  aiohttp session (both through ``Call``'s framed door, ``_framed``);
* :mod:`libchatty.bindings.batch` -- ``libchatty batch`` and its Python API;
  :mod:`libchatty.bindings.dask` -- batches on a Dask cluster;
* :mod:`libchatty.bindings.server` -- the local replay server's socket shell;
  :mod:`libchatty.bindings.pytest_plugin` -- its pytest fixture;
* :mod:`libchatty.bindings.cli` -- the ``libchatty`` command (what it writes:
  ``_cli_output``; the common command line without argparse: ``_argv``).

All clients share one request loop, in rooms of one job each:

* ``_api`` -- the public types (``Completion``, ``Timeout``, ``STOP``; the option
  TypedDicts ``ChatOptions``, ``ChatArguments``, ... live in ``_chat_options``, loaded by
  ``_api`` when first used);
* ``_config`` -- the constructor keywords (``ClientOptions``, written once in
  ``_client_options``, loaded by ``_config`` when first named) and the ``ClientConfig``
  they resolve to; ``_proxy`` -- proxies from the environment and the
  ``CONNECT`` tunnel;
* ``_ops`` -- the operations the loop asks for (``Connect``, ``Send``, ``Receive``, ...),
  ``IOFailure`` and ``Runtime``; ``_pool`` -- idle keep-alive connections;
* ``_exchange`` -- the loop itself, a sans-I/O generator: retries, the streaming
  fallback, stale pooled connections; ``_attempt`` -- one attempt: connect or reuse, send,
  read, deliver, keep-alive, timeouts; ``_results`` -- the ``Completion`` a call returns;
* ``_credentials`` -- cloud credentials that expire (botocore, google-auth), refreshed in
  one place; ``_partials`` -- partial objects for ``on_partial``; ``_log`` -- DEBUG
  logging, only if the application imported ``logging``;
* ``_runners`` -- the backend interfaces and ``drive``/``adrive``, sync and async side
  by side; ``_chat_run`` -- the body of ``chat()``: its callbacks, ``STOP``, partials;
* ``_client`` -- the client shell every client is built on; ``_async_client`` -- the
  async client of trio and asyncio;
* ``_transport`` -- what backends share: TLS context, ``map_exceptions``, socket probe.

Nothing is imported here, so importing a binding costs only what that binding needs.
"""
