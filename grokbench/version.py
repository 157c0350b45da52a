"""The package version, in a module of its own so that library modules can read it without
importing the package (which would make the package's own imports circular)."""
__version__ = "0.1.0"
