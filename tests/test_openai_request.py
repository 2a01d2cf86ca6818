"""dialects/openai_request.py: what building a request loads. (The bodies themselves are
pinned by tests/test_openai_chat.py and tests/test_openai_responses.py.)"""

from __future__ import annotations

from test_startup_imports import loaded


def test_a_plain_request_body_leaves_the_options_unloaded() -> None:
    # libchatty.options is for response_format and reasoning: the first plain call of a
    # process does not pay for importing it.
    code = """
from libchatty import Call, ChatRequest, Endpoint, Message
request = ChatRequest("m", [Message("user", "hi")])
for dialect in ("openai-chat", "openai-responses"):
    call = Call(Endpoint("http://127.0.0.1:9/v1", "k", dialect), request)
    assert call.http_request().body.startswith(b'{"model":"m"')
"""
    assert "libchatty.options" not in loaded(code)


def test_a_schema_request_body_is_built_with_the_options() -> None:
    code = """
import json
from libchatty import Call, ChatRequest, Endpoint, Message
schema = {"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "object"}}}
request = ChatRequest("m", [Message("user", "hi")], response_format=schema)
body = json.loads(Call(Endpoint("http://127.0.0.1:9/v1", "k"), request).http_request().body)
assert body["response_format"]["json_schema"]["name"] == "a", body
request = ChatRequest("m", [Message("user", "hi")], response_format="json")
body = json.loads(Call(Endpoint("http://127.0.0.1:9/v1", "k"), request).http_request().body)
assert body["response_format"] == {"type": "json_object"}, body
"""
    assert "libchatty.options" in loaded(code)
