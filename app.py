"""The portal's WSGI entry point: ``flask --app app run`` or ``gunicorn app:app``."""

from tokens import create_app

app = create_app()
