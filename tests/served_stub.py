"""A scripted OpenAI-compatible server for the served road's error answers (the happy path is tested against real
``transformers serve`` processes): an ``aiohttp.web`` app on 127.0.0.1 in a background thread, whose answer to each
request the test sets (:attr:`StubServer.mode`)."""

from __future__ import annotations

import asyncio
import json
import threading

GENERATION = (
    "Answer with a precise response.\nWhat colour is the shape?<|eot_id|><|start_header_id|>assistant<|end_header_id|>"
    "\n\nRed<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nAnswer with an informative response.\nWhat colour "
    "is the shape?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nThe shape is red, so it is red.<|eot_id|>"
)
"""A complete triplet in the released synthesizer's format."""


class StubServer:
    """``url`` is the /v1 base; ``mode`` picks the answer (see :meth:`answer`); ``seen`` counts completion requests;
    ``auth`` records the Authorization headers received; ``models`` is what ``GET /v1/models`` lists."""

    def __init__(self, models: list[str] | None = None, owned_by: str = "vllm"):
        from aiohttp import web

        self.mode = "ok"
        self.closing = False
        self.models = models or []
        self.owned_by = owned_by
        self.seen = 0
        self.auth: list[str] = []
        self.text = GENERATION
        self.completion_text = "Yes"
        self.refuse_first = 0  # mode "refuse-first": the first N completion requests get 400, the rest "ok"
        self.loop = asyncio.new_event_loop()
        app = web.Application()
        app.router.add_get("/v1/models", self.list_models)
        app.router.add_post("/v1/chat/completions", self.complete)
        app.router.add_post("/v1/completions", self.complete)
        self.runner = web.AppRunner(app, access_log=None)
        ready = threading.Event()

        async def start():
            await self.runner.setup()
            site = web.TCPSite(self.runner, "127.0.0.1", 0)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]
            ready.set()

        self.thread = threading.Thread(target=self._serve, args=(start,), daemon=True)
        self.thread.start()
        ready.wait(10)
        self.base = f"http://127.0.0.1:{self.port}"
        self.url = self.base + "/v1"

    def _serve(self, start) -> None:
        self.loop.run_until_complete(start())
        self.loop.run_forever()

    def close(self) -> None:
        """Stop the server (dripping or hanging answers end at once)."""
        self.closing = True
        try:
            asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)

    async def list_models(self, request):
        from aiohttp import web

        if self.mode == "models-401":
            return web.json_response({"error": {"message": "invalid key"}}, status=401)
        if self.mode == "models-500":
            return web.json_response({"detail": "CacheNotFound"}, status=500)
        data = [{"id": m, "object": "model", "owned_by": self.owned_by} for m in self.models]
        return web.json_response({"object": "list", "data": data})

    def completion(self, path: str) -> dict:
        """A well-formed completion of ``self.text`` for ``path``."""
        if path.endswith("/chat/completions"):
            choice = {"index": 0, "message": {"role": "assistant", "content": self.text}, "finish_reason": "stop"}
            return {"object": "chat.completion", "choices": [choice]}
        choice = {"index": 0, "text": self.completion_text, "finish_reason": "stop"}
        return {"object": "text_completion", "choices": [choice]}

    async def complete(self, request):  # noqa: C901 (one branch per scripted answer)
        from aiohttp import web

        body = await request.json()
        self.auth.append(request.headers.get("Authorization", ""))
        if body.get("max_tokens") == 1 and body.get("messages", [{}])[0].get("content") == "Hello":
            if self.mode == "pinned":  # the probe's one-token check of an unlisted model
                return web.json_response({"detail": "Server is pinned to 'other'"}, status=400)
            return web.json_response(self.completion(request.path))
        if body.get("max_tokens") == 1 and body.get("prompt") == "Hello":
            return web.json_response(self.completion(request.path))
        self.seen += 1
        mode = self.mode
        if mode == "ok":
            return web.json_response(self.completion(request.path))
        if mode == "refuse-first":
            if self.seen <= self.refuse_first:
                return web.json_response({"detail": "image rejected: unsupported size"}, status=400)
            return web.json_response(self.completion(request.path))
        if mode.isdigit() and 300 <= int(mode) < 400:
            raise web.HTTPFound("http://example.invalid/v1/chat/completions")
        if mode.isdigit():
            return web.json_response({"detail": f"scripted {mode}"}, status=int(mode))
        if mode == "transient-then-ok":
            if self.seen % 2:
                return web.json_response({"detail": "busy"}, status=503, headers={"Retry-After": "0"})
            return web.json_response(self.completion(request.path))
        if mode == "empty-choices":
            return web.json_response({"object": "chat.completion", "choices": []})
        if mode == "no-choices":
            return web.json_response({"hello": "world"})
        if mode == "wrong-object":
            return web.json_response({"object": "embedding", "choices": [{"text": "x"}]})
        if mode == "not-json":
            return web.Response(text="<html>proxy login</html>", content_type="text/html")
        if mode == "echo-auth":
            echoed = {"detail": f"bad request; headers: Authorization: {request.headers.get('Authorization')}"}
            return web.json_response(echoed, status=400)
        if mode == "huge":
            response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
            await response.prepare(request)
            chunk = b"x" * (1 << 20)
            try:
                for _ in range(100):
                    await response.write(chunk)
            except (ConnectionError, RuntimeError):
                pass
            return response
        if mode in ("drip", "hang"):
            response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
            await response.prepare(request)
            try:
                for _ in range(600):
                    if self.closing or self.mode != mode:
                        break
                    if mode == "drip":
                        await response.write(b" ")
                    await asyncio.sleep(0.2)
            except (ConnectionError, RuntimeError):
                pass
            return response
        raise AssertionError(f"unknown mode {mode}")


def dumps(obj) -> str:
    """JSON text (for tests that write fixtures)."""
    return json.dumps(obj)
