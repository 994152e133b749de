"""The resolver backend: an ASGI app (FastAPI) run by uvicorn, behind the ``[server]`` extra.

``app.create_app(settings, resolver)`` builds the app; ``thoth-pip serve`` runs it.
Nothing here is imported by the rest of micro-thoth.
"""
