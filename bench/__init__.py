"""Benchmarks: interaction acknowledgement under load, generation overhead, queries at scale.

Run one with ``python -m bench.<name>`` or all with ``python -m bench.run_all`` (``make bench``).
Not part of ``make test``. See bench/README.md for the figures and how they were measured.
"""
