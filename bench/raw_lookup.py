"""A reference between the floor and the portal: bare Flask plus one raw ``sqlite3`` digest lookup.

No logging, rate limiting, headers or ORM: what authentication alone costs at its cheapest. Reads
the portal's database (PORTAL_DATABASE, a file path) and digest key (FLASK_TOKEN_DIGEST_KEY).
"""

import hmac
import os
import sqlite3
from hashlib import sha256

from flask import Flask, jsonify, request

app = Flask(__name__)
KEY = os.environ.get("FLASK_TOKEN_DIGEST_KEY", "").encode()
connection = None  # one per worker, opened on its first request


@app.get("/api/2018-10-01/tokens/self")
def tokens_self():
    global connection
    if connection is None:
        connection = sqlite3.connect(os.environ["PORTAL_DATABASE"], check_same_thread=False)
    digest = hmac.new(KEY, request.headers.get("X-Auth-Token", "").encode(), sha256).hexdigest()
    row = connection.execute("SELECT public_id FROM api_token WHERE digest = ?", (digest,)).fetchone()
    if row is None:
        return jsonify(status="fail", data={"message": "Authentication failed."}), 401
    return jsonify(status="success", data={"token": {"id": row[0]}})
