"""ffkpi: MRR and ARR per pricing tier and product, straight from Stripe."""

from importlib.metadata import version

__version__ = version("ffkpi")
