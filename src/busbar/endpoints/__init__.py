"""The background work of global endpoints: reading their Route 53 health checks
(:mod:`busbar.endpoints.health`) and settling their states (:mod:`busbar.endpoints.lifecycle`).

What an endpoint is and where it routes now is :mod:`busbar.resources.endpoints`; its
operations and PutEvents through it are :mod:`busbar.api.endpoints`.  This room sits
beside delivery (it calls AWS through :mod:`busbar.delivery.aws.clients`) and is started
by the server.
"""
