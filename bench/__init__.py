"""Benchmarks: one module per concern, each with a ``main()``; never run as tests.

``python -m bench`` (``make bench``) runs every module's ``main()``; each appends its figures, with the
machine and the date, to its own section of docs/benchmarks.md.
"""
