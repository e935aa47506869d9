"""The planted bugs, one module per theme; each registers its mutants on import (``tests/mutants/base.py``)."""
