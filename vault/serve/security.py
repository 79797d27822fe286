"""What every request must pass (Host, session cookie, same origin and CSRF) and the headers on every response."""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from vault.serve.session import Session

# Nothing but this server, and nothing inline: the script and style are files of the package.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}
SAFE_METHODS = frozenset({"GET", "HEAD"})
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf"


def allowed_hosts(port: int) -> frozenset[str]:
    return frozenset({f"127.0.0.1:{port}", f"localhost:{port}"})


def allowed_origins(port: int) -> frozenset[str]:
    return frozenset(f"http://{h}" for h in allowed_hosts(port))


def forbidden(why: str = "forbidden") -> Response:
    return Response(f"{why}\n", status=403, mimetype="text/plain")


def secure(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers[name] = value
    return response


def host_ok(request: Request, port: int) -> bool:
    """DNS rebinding: a page of another name that resolves to 127.0.0.1 sends its own Host."""
    return request.headers.get("Host", "") in allowed_hosts(port)


def origin_ok(request: Request, port: int) -> bool:
    """A state-changing request must come from our own page: Origin (or, lacking it, Sec-Fetch-Site) says so.

    Under `Referrer-Policy: no-referrer` a browser sends `Origin: null` with a form's POST (the
    unlock and export forms); then the browser's own `Sec-Fetch-Site` must say same-origin (a page
    cannot set that header)."""
    origin = request.headers.get("Origin")
    if origin is not None and origin != "null":
        return origin in allowed_origins(port)
    return request.headers.get("Sec-Fetch-Site") == "same-origin"


def csrf_ok(request: Request, session: Session) -> bool:
    token = request.headers.get(CSRF_HEADER)
    if token is None and request.mimetype == "application/x-www-form-urlencoded":
        token = request.form.get(CSRF_FIELD)
    return session.csrf_ok(token)
