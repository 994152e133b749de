"""Knowledge on disk: the I/O side of guidance (unit files, synced sources, advisory imports, stores, wheel ABI facts).

``guidance/`` parses, matches and judges in memory; this package finds the
files, walks directories, fetches and compiles sources, and keeps what was
learned in SQLite under the knowledge directory (``locations.py``).
"""
