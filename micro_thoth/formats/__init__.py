"""Text <-> models for the files users hand us; pure functions, no I/O.

``pipfile`` (Pipfile, with pipenv's ``_meta`` hash and comment-keeping edits),
``pipfile_lock`` (Pipfile.lock, written byte for byte like pipenv),
``requirements`` (requirements.in/.txt, read and written like pip-tools) and
``poetry_lock`` (poetry.lock, read only). Callers read and write the files;
these functions take the text and the path (for error messages only).
"""
