"""Rezolve's vendor surface: the Keycloak token endpoint, tickets, and ticketing metadata."""
