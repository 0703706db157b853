"""The peer for start-up: a bare FastAPI app with one HTML page, served by uvicorn."""

import gc
import os
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

app = FastAPI()


@app.get("/logg-inn", response_class=HTMLResponse)
def page() -> str:
    return "<!doctype html><html lang='nb'><title>x</title><p>Logg inn</p></html>"


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/pid")
def pid() -> dict[str, Any]:
    """Which worker process answered and how its garbage collector is set
    (tests/test_serving.py checks the balance and the settings)."""
    return {"pid": os.getpid(), "gc_frozen": gc.get_freeze_count(), "gc": gc.get_threshold()}
