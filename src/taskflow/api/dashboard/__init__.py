"""The web dashboard: static files shipped in the package (HTML, CSS, ES modules), served at ``/``.

No build step and no CDN: the browser loads the modules as they are. The page holds no data
of its own; it signs in with an API key kept for the browser tab (``sessionStorage``) and
calls the same ``/v1`` routes as any client, so it sees what the key's user may see. The
files are public (they contain no data); a Content-Security-Policy lets them load nothing but
themselves.
"""

from __future__ import annotations

from importlib import resources

from aiohttp import web

routes = web.RouteTableDef()

#: Where the files are served from (``/`` serves ``index.html``).
PREFIX = "/dashboard/"
_TYPES = {".html": "text/html", ".css": "text/css", ".js": "text/javascript"}
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def _files() -> dict[str, tuple[bytes, str]]:
    """Every file of the dashboard by its path under `PREFIX`, with its content type."""
    found: dict[str, tuple[bytes, str]] = {}
    stack = [("", resources.files(__package__))]
    while stack:
        prefix, folder = stack.pop()
        for entry in folder.iterdir():
            name = f"{prefix}{entry.name}"
            if entry.is_dir():
                stack.append((f"{name}/", entry))
                continue
            suffix = name[name.rfind(".") :]
            if suffix in _TYPES:
                found[name] = (entry.read_bytes(), f"{_TYPES[suffix]}; charset=utf-8")
    return found


FILES = _files()


def _serve(name: str) -> web.Response:
    body, content_type = FILES[name]
    return web.Response(body=body, headers={**HEADERS, "Content-Type": content_type})


@routes.get("/")
async def index(request: web.Request) -> web.Response:
    """The dashboard's page."""
    return _serve("index.html")


@routes.get(PREFIX + "{name:.+}")
async def asset(request: web.Request) -> web.Response:
    """One of its files (only those shipped: nothing else on disk can be reached)."""
    name = request.match_info["name"]
    if name not in FILES:
        raise web.HTTPNotFound(text=f"{request.path}: no such file of the dashboard")
    return _serve(name)


def is_public(path: str) -> bool:
    """Whether ``path`` is the dashboard's (served without a key: the files hold no data)."""
    return path == "/" or path.startswith(PREFIX)


__all__ = ["FILES", "PREFIX", "is_public", "routes"]
