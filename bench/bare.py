"""The floor: a bare Flask endpoint with no authentication and no database, served the same way."""

from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/api/2018-10-01/tokens/self")
def tokens_self():
    return jsonify(status="success", data={"token": {"id": "bare"}})
