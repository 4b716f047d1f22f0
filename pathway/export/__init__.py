"""Writers of the loaded pathway in other languages (one module or module family per target)."""
