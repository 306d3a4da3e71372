"""In-repo emulators of the vendors' APIs (Jira Cloud, ServiceNow, Rezolve), shipped with the product.

Each sandbox is an ASGI app that runs in process (tests, through `SandboxTransport`) and standalone
(`ticketbridge sandbox jira`). They share one base (README.md): the `/__sandbox__/` control router
(control.py), fault injection (faults.py), the call counter (calls.py) and persistence (persistence.py).
"""
