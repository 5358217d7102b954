"""The database: each app's engine set up (SQLite pragmas), and the runner of the API's one hot-path SELECT."""

from sqlalchemy import event
from sqlalchemy.exc import DBAPIError

from .extensions import db


def init_app(app) -> None:
    """Bind the engine settings to this app's own engine (not to every engine in the process)."""
    with app.app_context():
        engine = db.engine
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)


def _sqlite_pragmas(dbapi_connection, connection_record):
    """Turn on WAL (readers never wait for the writer) and foreign keys on every SQLite connection."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class CompiledSelect:
    """A Core SELECT compiled once per kind of database and run straight on a pooled DBAPI connection.

    For the one query every API request makes: it skips the ORM session and SQLAlchemy's
    per-execution work (cache keys, result objects), keeping the column types' conversions.
    """

    def __init__(self, statement):
        self.statement = statement
        self._compiled = {}

    def _compile(self, dialect):
        compiled = self.statement.compile(dialect=dialect)
        names = compiled.positiontup  # None where parameters are passed by name (psycopg)
        processors = [column.type.dialect_impl(dialect).result_processor(dialect, None)
                      for column in self.statement.selected_columns]
        # Most columns need no conversion: keep only those that do, with their place in the row.
        converters = [(place, convert) for place, convert in enumerate(processors) if convert]
        return str(compiled), names, dict(compiled.params), converters

    def first(self, engine, **parameters) -> tuple | None:
        """Return the first row, converted, or None; database errors are raised as SQLAlchemy's.

        A read, so a pooled connection found dead (the database restarted since) is retried once on a
        new one, at no cost to a request whose connection is alive.
        """
        dialect = engine.dialect
        key = (dialect.name, dialect.driver, dialect.paramstyle)
        if key not in self._compiled:
            self._compiled[key] = self._compile(dialect)
        sql, names, defaults, converters = self._compiled[key]
        parameters = {**defaults, **parameters}
        arguments = [parameters[name] for name in names] if names is not None else parameters
        for retry in (True, False):
            connection = cursor = None
            try:
                connection = engine.raw_connection()  # connecting can fail too (the database is down)
                cursor = connection.cursor()
                cursor.execute(sql, arguments)
                row = cursor.fetchone()
                cursor.close()
                break
            except dialect.loaded_dbapi.Error as error:
                dropped = connection is not None and dialect.is_disconnect(error, connection.dbapi_connection, cursor)
                if dropped:
                    connection.invalidate(error)
                    if retry:  # a pooled connection the database dropped (it restarted): once more, on a new one
                        continue
                raise DBAPIError.instance(sql, None, error, dialect.loaded_dbapi.Error, hide_parameters=True,
                                          connection_invalidated=dropped or connection is None,
                                          dialect=dialect) from error
            finally:
                if connection is not None:
                    connection.close()
        if row is None:
            return None
        row = list(row)
        for place, convert in converters:
            row[place] = convert(row[place])
        return tuple(row)
