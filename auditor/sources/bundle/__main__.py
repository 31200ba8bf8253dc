"""``python -m auditor.sources.bundle > config/schema/bundle.schema.json``: the bundle's JSON
Schema, generated from its typed definition (``format.py``)."""

import sys

from auditor.sources.bundle.format import schema_text

sys.stdout.write(schema_text())
