"""Knowledge on disk: the I/O side of guidance (prescription unit files, synced sources, advisory imports, stores).

``guidance/`` parses, matches and judges in memory; this package finds the
files, walks directories, fetches and compiles sources, and keeps what was
learned in SQLite under the knowledge directory (``locations.py``).
"""
