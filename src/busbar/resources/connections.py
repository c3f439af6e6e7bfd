"""The vocabulary of connections that both the API and the HTTP sender speak:
authorization types, states and which members hold credentials."""

from __future__ import annotations

BASIC = "BASIC"
API_KEY = "API_KEY"
OAUTH = "OAUTH_CLIENT_CREDENTIALS"

AUTHORIZED = "AUTHORIZED"
AUTHORIZING = "AUTHORIZING"
DEAUTHORIZED = "DEAUTHORIZED"
DEAUTHORIZING = "DEAUTHORIZING"
DELETING = "DELETING"

# Members whose values are credentials: stored (encrypted), never answered.
SECRET_MEMBERS = ("Password", "ApiKeyValue", "ClientSecret")
