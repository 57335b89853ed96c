"""The benchmark suite: `make bench` (or `python -m bench`) writes a Markdown report and plots."""
