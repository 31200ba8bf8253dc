"""Analysis shared by several checks: threads (addressed and answered posts), SLA clocks and
calendars, business-hours arithmetic, posted-hours text, customer-post classification and its
lexicons, templates, private-channel and conduct helpers.

Pure functions over the model. May import ``auditor.model`` and ``auditor.check`` (the contract)
and each other; never a source, the engine, the store, the fetch layer, a check or a writer.
"""
