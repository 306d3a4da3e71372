"""Use cases: each function takes the unit of work (an AsyncSession) and flushes, never commits."""
