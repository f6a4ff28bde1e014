"""Fakes for the model boundary, shipped with the library (tests, benchmarks, e2e).

- :class:`ScriptedModel`: a ``ChatModel`` replaying scripted turns in-process.
- :class:`FakeOpenAIServer` / :class:`FakeAnthropicServer`: real HTTP servers on
  127.0.0.1 replaying the same turns through the real SDKs, with scripted errors,
  dropped streams and llama.cpp quirks (:class:`OpenAIQuirks`).
- ``python -m mnemocode.llm.testing serve --script FILE.json --port 0`` runs a
  fake server in a subprocess and prints its base URL on the first stdout line.

Build turns with :func:`text`, :func:`tool_call`, :func:`calls` + :func:`call`,
:func:`reasoning`, :func:`error`, :func:`dropped`, :func:`cut`; combine them with ``+``.
"""

from mnemocode.llm.testing.fake_anthropic import FakeAnthropicServer
from mnemocode.llm.testing.fake_openai import FakeOpenAIServer, OpenAIQuirks
from mnemocode.llm.testing.model import ScriptedModel
from mnemocode.llm.testing.script import (
    ScriptedCall,
    ScriptedError,
    ScriptExhaustedError,
    Turn,
    call,
    calls,
    cut,
    dropped,
    error,
    load_script,
    reasoning,
    text,
    tool_call,
)
from mnemocode.llm.testing.server import RecordedRequest

__all__ = [
    "FakeAnthropicServer",
    "FakeOpenAIServer",
    "OpenAIQuirks",
    "RecordedRequest",
    "ScriptExhaustedError",
    "ScriptedCall",
    "ScriptedError",
    "ScriptedModel",
    "Turn",
    "call",
    "calls",
    "cut",
    "dropped",
    "error",
    "load_script",
    "reasoning",
    "text",
    "tool_call",
]
