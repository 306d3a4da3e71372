"""`python -m bench.load` (`make load`): many concurrent clients against real ticketbridge processes.

Two deployments, one after the other, each against its own standalone Jira sandbox process:

- distributed: two `ticketbridge serve --no-worker` and two `ticketbridge worker` on a throwaway
  PostgreSQL database (127.0.0.1:5432, trust auth), 200 clients spread over both API ports;
- embedded: one `ticketbridge serve` with its in-process worker on SQLite, 50 clients.

Each client loops, closed-loop, over a weighted mix of list, get, create (unique identifiers, and on
purpose some repeated ones, in flight or already stored, to exercise the create claims) and async bulk
creates of 10, until the deadline. Afterwards every accepted job is waited for (bounded), and every
identifier sent is counted in the local store and in Jira (by its create marker). Results go to
bench/results/load-<mode>.json and .md. See README "Benchmarks", "Load".
"""
