"""Frozen values that cross layers: the store returns them, services and the API consume them."""
