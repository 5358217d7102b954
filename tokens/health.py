"""The health endpoint for load balancers: the database answers and its schema is current."""

import os

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Blueprint, current_app, jsonify
from sqlalchemy.exc import SQLAlchemyError

from .extensions import db

bp = Blueprint("health", __name__)


def expected_revision(app) -> str:
    """The newest migration shipped with this code, read once per process."""
    if "portal_head_revision" not in app.extensions:
        directory = os.path.join(os.path.dirname(app.root_path), "migrations")
        app.extensions["portal_head_revision"] = ScriptDirectory(directory).get_current_head()
    return app.extensions["portal_head_revision"]


@bp.get("/healthz")
def healthz():
    """200 when the database answers at the schema this code expects; 503 (and why) otherwise."""
    expected = expected_revision(current_app)
    try:
        with db.engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError:
        return jsonify(status="unavailable", database="unreachable"), 503
    if current != expected:
        return jsonify(status="unavailable", database="ok", migrations=f"at {current}, expected {expected}"), 503
    return jsonify(status="ok", database="ok", migrations="current")
