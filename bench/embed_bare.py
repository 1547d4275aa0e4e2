"""A bare FastAPI app serving fixed bytes from memory: no database, no project middleware.

For bench/embed.py only. `BENCH_BARE_BYTES` names a JSON file `{path: [media_type, hex body]}`
(bytes captured from the project's server); each path is served as-is by an `async def` route.
"""

import json
import os
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response

app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
_BODIES = {
    path: (media_type, bytes.fromhex(body))
    for path, (media_type, body) in json.loads(
        Path(os.environ["BENCH_BARE_BYTES"]).read_text()
    ).items()
}


@app.get("/{path:path}")
async def serve(request: Request) -> Response:
    media_type, body = _BODIES[request.url.path]
    return Response(body, media_type=media_type)
