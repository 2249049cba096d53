"""The shop's web app: counts visits in PostgreSQL."""

import os

import psycopg2
from flask import Flask

app = Flask(__name__)


@app.get("/health")
def health() -> str:
    # the process serves; the database has its own healthcheck
    return "ok\n"


@app.get("/")
def visit() -> str:
    with psycopg2.connect(os.environ["DATABASE_URL"]) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS visits (at timestamptz DEFAULT now())")
        cur.execute("INSERT INTO visits DEFAULT VALUES")
        cur.execute("SELECT count(*) FROM visits")
        (count,) = cur.fetchone()
    return f"visit {count}\n"
