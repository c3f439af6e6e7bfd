"""busbar's resources as the store keeps them: kinds, keys, scopes and lookups.

This room sits below both the API (which changes resources) and delivery (which
reads them to send): it knows how a bus, a rule, a connection or an API
destination is stored and found by name or ARN, and nothing about HTTP or AWS's
error answers.  It imports only :mod:`busbar.model` and the store interface.
"""
