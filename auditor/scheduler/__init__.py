"""When each client's audit runs: its schedule (``when``) and what is due now (``due``).

Pure functions of the config's schedules, the history store's record of past runs and an
injected clock: nothing here reads the clock, sleeps, or touches a file. Imports nothing of the
project (``auditor.config`` imports it to parse the ``schedule`` keys); the loop that wakes and
runs audits is built on top of it, above the engine.
"""
