"""The durable job engine: enqueue in the request's transaction, claim under a lease, run a handler,
finish fenced. See README.md for the design."""
