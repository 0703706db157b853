"""The peer for start-up: a bare FastAPI app with one HTML page, served by uvicorn."""

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
def pid() -> dict[str, int]:
    """Which worker process answered (tests/test_serving.py checks the balance)."""
    import os

    return {"pid": os.getpid()}
