"""busbar: a self-hosted event bus that speaks Amazon EventBridge's API."""

__version__ = "0.1.0"
