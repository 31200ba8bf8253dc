"""Data installed as ``auditor.resources``: the JSON Schemas, the default policy and the demo.

No code: nothing here may import anything.
"""
