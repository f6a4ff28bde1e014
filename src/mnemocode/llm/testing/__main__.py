"""``python -m mnemocode.llm.testing serve --script FILE.json [--port 0]``.

Prints the base URL to give the SDK (``http://127.0.0.1:PORT/v1`` for OpenAI,
``http://127.0.0.1:PORT`` for Anthropic) on the first stdout line, then serves
until SIGTERM / SIGINT. ``GET /_fake/requests`` returns the requests seen so far;
``--log FILE`` also writes them as JSON lines when the server stops. The script
format is ``SCRIPT_FORMAT`` below, shown by ``serve --help``.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from types import FrameType

from mnemocode.llm.testing.fake_anthropic import FakeAnthropicServer
from mnemocode.llm.testing.fake_openai import FakeOpenAIServer, OpenAIQuirks
from mnemocode.llm.testing.script import load_script
from mnemocode.llm.testing.server import FakeServer

SCRIPT_FORMAT = """\
script format (--script FILE.json): a JSON list of turns. Each request for a
model answer takes the next turn, in order; a request past the last one gets
HTTP 400 with error type script_exhausted. A turn is a string (the answer's
text) or an object with any of these keys:

  text           the answer's text
  reasoning      thinking text, streamed before the answer
  tool_calls     [{"name": "file_read", "arguments": {"path": "a.py"}}, ...];
                 per call also "id" (default call_1, call_2, ...) and
                 "raw_arguments" (sent as is instead of the JSON of arguments,
                 to script invalid JSON)
  delay          seconds to wait before answering
  usage          {"input_tokens": 120, "output_tokens": 8, "cache_read_tokens": 0,
                 "cache_write_tokens": 0} reported for the turn
  finish_reason  instead of "stop" ("tool_calls" when the turn has calls)
  error          {"status": 429, "message": "slow down", "retry_after": 1.0,
                 "type": "rate_limit_error", "code": "..."}: answer with this
                 HTTP error; status 0 drops the connection instead
  drop_after     N: stream N chunks of the answer, then fail (the error
                 mid-stream if one is set, else a dropped connection)
  cut_after      N: stream N chunks, then end the body cleanly with no finish
                 reason (a server that gave up without an error)

example (a tool call, then the final answer):
  [{"tool_calls": [{"name": "shell_exec", "arguments": {"command": "echo hi"}}]},
   "The command printed hi."]

The requests seen so far: GET <url>/_fake/requests (or --log FILE).
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mnemocode.llm.testing")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser(
        "serve",
        help="run a fake model server",
        description="Serve a fake OpenAI-compatible (or Anthropic) model that replays a "
        "script; prints its base URL on the first line.",
        epilog=SCRIPT_FORMAT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("--script", required=True, help="JSON list of turns (format below)")
    serve.add_argument("--port", type=int, default=0, help="0 picks a free port")
    serve.add_argument("--provider", choices=["openai", "anthropic"], default="openai")
    serve.add_argument("--model", default=None, help="model id the server reports")
    serve.add_argument(
        "--quirk",
        action="append",
        default=[],
        help="openai only: llama-cpp, repeat-tool-names, no-stream-with-tools, "
        "reject-null-content, full-message-chunk, ignore-stream-options",
    )
    serve.add_argument("--log", default=None, help="write recorded requests here (JSON lines)")
    return parser


def _build(args: argparse.Namespace) -> tuple[FakeServer, str]:
    script = load_script(args.script)
    if args.provider == "anthropic":
        anthropic = FakeAnthropicServer(script, model=args.model or "claude-fake", port=args.port)
        anthropic.start()
        return anthropic, anthropic.base_url
    quirks = OpenAIQuirks.named(args.quirk)
    openai = FakeOpenAIServer(
        script, model=args.model or "fake-model", quirks=quirks, port=args.port
    )
    openai.start()
    return openai, openai.base_url


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        server, url = _build(args)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    print(url, flush=True)
    try:
        while not stop.wait(0.2):
            pass
    finally:
        server.stop()
        if args.log:
            with open(args.log, "w", encoding="utf-8") as fh:
                for request in server.requests:
                    fh.write(json.dumps(request.to_dict()) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
