"""In-repo emulators of the vendors' APIs (Jira Cloud, Rezolve), shipped with the product.

Each sandbox is an ASGI app that runs in process (tests, through `SandboxTransport`) and standalone
(`ticketbridge sandbox jira`). `faults.py` holds the fault injection both share.
"""
