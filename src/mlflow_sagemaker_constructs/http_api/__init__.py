"""The private API Gateway HTTP API in front of the tracking server."""
