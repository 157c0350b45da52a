"""grokbench's bundled plugins, one file each, registered through the ``grokbench`` entry-point
group in pyproject.toml exactly as a third-party plugin would be (installed as ``grokbench_plugins``)."""
