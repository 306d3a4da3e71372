"""The HTTP API: routers, request/response models, auth dependencies, the error contract."""
