"""`talkvault serve`: the encrypted vault in a browser on 127.0.0.1, and nothing left behind.

A small WSGI application (werkzeug for requests and the loopback server, jinja2 with autoescape
for the pages) over the `Vault` facade only. Modules: `server` (listening on 127.0.0.1, the
request loop, the idle lock, signals), `session` (the one-time token, the cookie, the CSRF token,
the key's lifetime), `security` (the checks every request passes and the headers every response
carries), `app` (the routes), `render` (templates and how a message looks), `charts` (SVG made on
the server), `media` (attachment bytes with byte ranges). The page's script and style are in
`static/`, its templates in `templates/`. docs/serve.md says what it protects and what not.
"""
