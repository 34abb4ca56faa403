"""Scripts that print refmail's figures; they assert nothing. Run each from the repository root
as a module (``python3 -m bench.sync_throughput``), so it imports refmail and ``tests.support``
from this checkout without touching ``sys.path``."""
