"""social-care-auditor: audits how brands run customer service on social media."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("social-care-auditor")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
