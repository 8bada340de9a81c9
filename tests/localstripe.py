"""localstripe (PyPI): a stateful Stripe-compatible server, started on a free port for the tests.

It keeps PaymentIntents, charges and refunds as Stripe does, completes or fails 3-D Secure on
`POST /v1/payment_intents/{id}/_authenticate`, and signs the webhooks it sends (about a second after
the event) exactly as Stripe does, to the URLs registered with `POST /_config/webhooks/{name}`. It
does not honour idempotency keys. Its state lives in the process (started from scratch): every test
creates its own objects.
"""

from __future__ import annotations

import http.client
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

from testbed.servers import Process, free_port, spawn

START_TIMEOUT = 30.0
API_KEY = "sk_test_localstripe"  # localstripe takes any key


class LocalStripe:
    def __init__(self, process: Process, port: int) -> None:
        self.process = process
        self.port = port
        self.url = f"http://127.0.0.1:{port}"

    @classmethod
    def start(cls) -> LocalStripe:
        # The script beside this interpreter: the venv's, as the test extras install it.
        script = Path(sys.executable).parent / "localstripe"
        port = free_port()
        # --from-scratch: localstripe saves its state to one fixed file (/tmp/localstripe.pickle) on
        # every change and would read it back at start, so two test processes would read each other's.
        arguments = [str(script), "--port", str(port), "--from-scratch"]
        server = cls(spawn("localstripe", arguments, dict(os.environ)), port)
        server.wait_ready()
        return server

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.process.poll() is not None:
                raise RuntimeError(f"localstripe exited before it answered:\n{self.process.log_tail()}")
            try:
                # Any answer will do (401: it wants a key): the server is up.
                self.post("/v1/customers", {}, key="")
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"localstripe did not answer within {timeout:.0f}s:\n{self.process.log_tail()}")

    def post(self, path: str, form: dict[str, str], *, key: str = API_KEY) -> tuple[int, bytes]:
        """One form-encoded POST, as Stripe's API takes them (for localstripe's own endpoints)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            if key:
                headers["Authorization"] = f"Bearer {key}"
            conn.request("POST", path, body=urlencode(form), headers=headers)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def authenticate(self, intent_id: str, client_secret: str, success: bool) -> None:
        """What the shopper does in the 3-D Secure page: pass it, or fail it."""
        status, body = self.post(
            f"/v1/payment_intents/{intent_id}/_authenticate",
            {"client_secret": client_secret, "success": "true" if success else "false"},
        )
        assert status == 200, body

    def send_webhooks(self, name: str, url: str, secret: str) -> None:
        """Have every event from now on signed with `secret` and posted to `url`."""
        status, body = self.post(f"/_config/webhooks/{name}", {"url": url, "secret": secret})
        assert status == 200, body

    def stop(self) -> None:
        self.process.stop()
