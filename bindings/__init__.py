"""libchatty bindings: drivers that run the sans-I/O core over real transports.

* ``libchatty.bindings.blocking`` -- ``Client`` on blocking sockets;
* ``libchatty.bindings.threads`` -- streams on worker threads (futures, bounded queues);
* ``libchatty.bindings.trio`` / ``libchatty.bindings.asyncio`` -- ``AsyncClient``;
* ``libchatty.bindings.server`` -- the local replay server (``python -m libchatty.serve``);
* ``libchatty.bindings.cli`` -- the ``libchatty`` command.

Nothing is imported here, so importing one binding never loads the others.
"""
