import ssl
import urllib.request

from aiohttp import web

from emulator.server import BackgroundServer


def _app():
    async def hello(request):
        return web.json_response({"ok": True, "scheme": request.scheme})

    app = web.Application()
    app.router.add_get("/hello", hello)
    return app


def test_tls_server_verifies_with_its_own_ca_and_stops():
    server = BackgroundServer(_app())
    with server:
        assert server.url.startswith("https://127.0.0.1:")
        context = ssl.create_default_context(cafile=server.ca_file)
        with urllib.request.urlopen(server.url + "/hello", context=context, timeout=5) as answer:
            assert answer.read() == b'{"ok": true, "scheme": "https"}'
        # the same name the cert carries as a DNS SAN
        localhost_url = server.url.replace("127.0.0.1", "localhost")
        with urllib.request.urlopen(localhost_url + "/hello", context=context, timeout=5) as answer:
            assert answer.status == 200
        assert "BEGIN CERTIFICATE" in server.ca_pem
    assert server.port is None


def test_plain_http_server():
    with (
        BackgroundServer(_app(), tls=False) as server,
        urllib.request.urlopen(server.url + "/hello", timeout=5) as answer,
    ):
        assert b'"scheme": "http"' in answer.read()
