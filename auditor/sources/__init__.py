"""Sources: where an account's data comes from, read into the model (``auditor.model``).

``bundle`` reads and writes the canonical JSON Lines format every source ends in; ``twcs`` reads
CSV files in the layout of the public "Customer Support on Twitter" dataset; ``platforms`` holds
the five sans-I/O platform protocols (parse a page, choose the next request; no I/O).

May import: ``auditor.model``, ``auditor.fsutil`` and each other. Never the engine, the checks,
the store, the fetch layer, the analysis helpers or the writers.
"""
