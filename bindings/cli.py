"""``libchatty``: chat with a model from the terminal (``python -m libchatty`` too).

Mirrors the original C libchatty's ``chatty``::

    libchatty [-s|--stream] [--provider NAME] [--base-url URL] [MODEL] [MESSAGE]
    libchatty batch INPUT.jsonl -o OUTPUT.jsonl [...]   (see libchatty.bindings.batch)

* ``MESSAGE`` is read from stdin when omitted and stdin is not a terminal. A single
  positional argument containing whitespace is the message, not the model (model names
  never contain spaces): ``libchatty "What is SSE?"``.
* Tokens are written to stdout as they arrive, flushed, whether stdout is a terminal, a
  pipe or a file (``libchatty ... | tee log`` shows the answer as it is generated).
  ``--no-stream`` sends a plain request instead and prints the answer once it is complete;
  ``-s``/``--stream`` is the default, kept for scripts written for chatty.
* A tool call is printed after the text, one line per call: ``[tool call] NAME ARGUMENTS``
  (the arguments as compact JSON on one line). An answer made only of tool calls is not
  an empty answer.
* ``--timeout SECONDS``: give up when no byte arrives for that long (and when connecting
  takes longer): exit status 1 with a ``timeout`` error, the text so far kept.
  ``--retries N``: retries of a failed request before any text arrived (default 2; 0 for
  none).
* ``--stats`` prints on stderr the time to first token, the generation rate, the size and
  the total time; ``--json`` prints every event as one JSON line on stdout instead of the
  text (tool calls are in the ``done`` event's ``tool_calls``). The rate is measured from
  the first piece of content to the last (so neither the wait for the first token nor
  the end of the response counts), over the provider's output token count when it
  reported usage (``tokens (usage)``), else over the content deltas received
  (``deltas (no usage reported)``). An answer that arrived in one burst (one network
  read, or a non-streamed body) has no measurable rate and the line says so.
* Errors are one line on stderr with a hint (which variable to set, which status came
  back) and a non-zero exit status: 1 for a failed chat, 2 for a usage or configuration
  problem, 130 when interrupted. ``--debug`` adds the traceback.
* The embedded default: with no ``--provider``, no ``--base-url`` (nor
  ``OPENAI_BASE_URL``) and no API key in the environment, the CLI starts libchatty's
  replay server in-process on a free loopback port and streams its scripted answer,
  saying so on stderr. ``--replay`` asks for it explicitly. ``make demo`` runs this.

This module is the command (arguments, where to send, the chat, exit statuses and error
hints); what it writes while the chat runs -- text, tool calls, JSON events, the
``--stats`` line -- is :mod:`~libchatty.bindings._cli_output`, and the fast reading of
plain command lines is :mod:`~libchatty.bindings._argv`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from types import SimpleNamespace
from typing import TYPE_CHECKING, Final, TextIO

from libchatty.events import Done, Error
from libchatty.exceptions import ChatError

from ._argv import positive_seconds, quick_parse, retries
from ._cli_output import Output, print_stats, stats_line

if TYPE_CHECKING:
    import argparse

    from libchatty.providers import Resolved

    from .server import ReplayServer

__all__ = ["main", "stats_line"]

EXIT_OK: Final = 0
EXIT_CHAT_ERROR: Final = 1
EXIT_USAGE: Final = 2
EXIT_INTERRUPTED: Final = 130

REPLAY_MODEL: Final = "replay-1"
DEMO_PROMPT: Final = "Hello! What are you, and how are you talking to me?"
# Seconds between tokens of the embedded replay when a person is watching, so the stream
# is visible; none when the output goes to a pipe (tests, benchmarks).
DEMO_TOKEN_DELAY: Final = 0.03

_HINTS: Final = {
    "auth": "the server refused the API key: check {keys}",
    "billing": "the account behind the key has no credit left",
    "permission": "the key is not allowed to use this model or endpoint",
    "not_found": "check the model name and the base URL ({base_url})",
    "redirect": "the base URL redirects; give the final URL with --base-url",
    "rate_limit": "rate limited: wait{retry} and try again, or lower the request rate",
    "overloaded": "the provider is overloaded: try again shortly",
    "server": "the provider failed: try again later",
    "bad_request": "the server rejected the request: check the model name and options",
    "connection": "could not reach {base_url}: is the server running? check --base-url",
    "timeout": "no answer in time from {base_url}",
    "incomplete": "the response broke off; the text above is all that arrived",
    "protocol": "the server's answer could not be read; is {base_url} the right kind of server?",
    "provider": "the provider reported an error in the middle of the answer",
    "limit": "the response exceeded a size limit",
}


class UsageError(Exception):
    """A problem with the command line or the configuration: exit status 2."""


def _help_formatter(prog: str) -> argparse.HelpFormatter:
    # argparse builds formatters while parsing, and its default one imports shutil to
    # size the help: measurable in a command that should start as fast as a script.
    import argparse

    try:
        width = os.get_terminal_size(sys.stdout.fileno()).columns - 2
    except (OSError, ValueError, AttributeError):
        width = 78
    return argparse.HelpFormatter(prog, width=max(width, 40))


def _parser() -> argparse.ArgumentParser:
    """The full parser: help, errors and every shape :func:`quick_parse` leaves to it.
    Its options and defaults are the tables in :mod:`._argv` (tests/test_argv.py checks)."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="libchatty",
        formatter_class=_help_formatter,
        description="Chat with a language model. With no API key configured, answers come "
        "from libchatty's local replay server.",
        epilog="Environment: OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY, GROQ_API_KEY, "
        "... pick the key; OPENAI_BASE_URL (or OPENAI_API_BASE) points at any "
        "OpenAI-compatible server.",
    )
    parser.add_argument("model", nargs="?", metavar="MODEL", help="model name")
    parser.add_argument("message", nargs="?", metavar="MESSAGE", help="default: stdin")
    stream = parser.add_mutually_exclusive_group()
    stream.add_argument(
        "-s", "--stream", action="store_true", default=True, help="stream (the default)"
    )
    stream.add_argument(
        "--no-stream",
        dest="stream",
        action="store_false",
        help="ask for one plain answer and print it when complete",
    )
    parser.add_argument("--provider", metavar="NAME", help="openai, anthropic, groq, gemini, ...")
    parser.add_argument("--base-url", metavar="URL", help="an OpenAI-compatible base URL, etc.")
    parser.add_argument("--dialect", metavar="NAME", help="wire format for --base-url")
    parser.add_argument("--replay", action="store_true", help="use the local replay server")
    parser.add_argument("--system", metavar="TEXT", help="a system message")
    parser.add_argument("--temperature", type=float, metavar="T")
    parser.add_argument("--max-tokens", type=int, metavar="N")
    parser.add_argument(
        "--timeout",
        type=positive_seconds,
        metavar="SECONDS",
        help="give up when no byte arrives for SECONDS (default 300; connect: 10)",
    )
    parser.add_argument(
        "--retries",
        type=retries,
        default=2,
        metavar="N",
        help="retries before any text arrived (default 2)",
    )
    parser.add_argument("--stats", action="store_true", help="timing and throughput on stderr")
    parser.add_argument("--json", action="store_true", help="events as JSON lines on stdout")
    parser.add_argument("--debug", action="store_true", help="tracebacks and connection details")
    return parser


def _read_stdin() -> str:
    try:
        return sys.stdin.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"could not read the message from stdin: {exc}") from None


def _arguments(args: SimpleNamespace) -> tuple[str | None, str | None]:
    """MODEL and MESSAGE, with the one-argument rule and stdin applied."""
    model, message = args.model, args.message
    if model is not None and message is None and any(c.isspace() for c in model):
        model, message = None, model
    if message is None and sys.stdin is not None and not sys.stdin.isatty():
        message = _read_stdin()
        if not message.strip():
            message = None
    return model, message


def _resolve(args: SimpleNamespace) -> Resolved | None:
    """Where to go: None means the embedded replay server."""
    from libchatty.providers import resolve

    if args.replay:
        return None
    try:
        resolved = resolve(args.provider, args.base_url, None, args.dialect, env=os.environ)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if resolved.api_key is None and resolved.key_required:
        if args.provider is None and args.base_url is None:
            return None  # nothing configured at all: the embedded default
        keys = " or ".join(resolved.key_env_checked) or "an API key"
        raise UsageError(f"no API key for {resolved.provider or resolved.base_url}: set {keys}")
    return resolved


def _hint(error: Error, base_url: str, resolved: Resolved | None) -> str:
    keys = "an API key"
    if resolved is not None and resolved.key_env_checked:
        keys = " / ".join(resolved.key_env_checked)
    retry = f" {error.retry_after:g} s" if error.retry_after is not None else " a moment"
    template = _HINTS.get(error.kind, "")
    return template.format(keys=keys, base_url=base_url, retry=retry)


def _describe(error: Error) -> str:
    status = f" (HTTP {error.status})" if error.status is not None else ""
    message = " ".join(error.message.split())  # one line, whatever the server sent
    if len(message) > 300:
        message = message[:297] + "..."
    return f"{error.kind}{status}: {message}"


def _run(args: SimpleNamespace, out: TextIO, err: TextIO) -> int:
    model, message = _arguments(args)
    resolved = _resolve(args)
    # Streaming does not depend on where stdout goes: a pipe reader (`| tee`, an editor
    # plugin) wants the tokens as they come just as much as a terminal does.
    stream: bool = args.stream
    replay: ReplayServer | None = None
    if resolved is None:
        from .server import ReplayServer

        delay = DEMO_TOKEN_DELAY if stream and out.isatty() else 0.0
        replay = ReplayServer(token_delay=delay)
        replay.start()
        base_url = replay.base_url
        err.write(
            f"libchatty: no API key configured (OPENAI_API_KEY, ANTHROPIC_API_KEY, ...): "
            f"answering from the local replay server at {base_url}\n"
        )
        err.flush()
        model = model or REPLAY_MODEL
        message = message or DEMO_PROMPT
    else:
        base_url = resolved.base_url
        if model is None:
            raise UsageError("give a MODEL, e.g. libchatty gpt-4o-mini 'Hello!'")
        if message is None:
            raise UsageError("give a MESSAGE, or pipe it on stdin")
    if args.debug:
        dialect = resolved.dialect if resolved is not None else "openai-chat"
        err.write(f"libchatty: POST to {base_url} ({dialect}), model {model}\n")
    try:
        return _chat(args, resolved, base_url, model, message, stream, out, err)
    finally:
        if replay is not None:
            replay.close()


def _chat(
    args: SimpleNamespace,
    resolved: Resolved | None,
    base_url: str,
    model: str,
    message: str,
    stream: bool,
    out: TextIO,
    err: TextIO,
) -> int:
    from .blocking import Client

    messages = []
    if args.system:
        messages.append({"role": "system", "content": args.system})
    messages.append({"role": "user", "content": message})
    output = Output(out, json_mode=args.json)
    try:
        # None leaves a setting at the client's default (timeout) or out of the request.
        client = Client(
            args.provider if resolved is not None else None,
            base_url=base_url if resolved is None else args.base_url,
            dialect=args.dialect if resolved is not None else None,
            timeout=args.timeout,
            max_retries=args.retries,
        )
        with client:
            completion = client.chat(
                messages,
                model,
                on_event=output.event if stream else None,
                temperature=args.temperature,
                max_tokens=args.max_tokens,
            )
    except ValueError as exc:  # a missing key, a bad URL or option: the message says which
        if args.debug:
            raise
        raise UsageError(str(exc)) from None
    except ChatError as exc:
        error = exc.error
        if args.json:
            if not output.saw_error:
                output.write_json(error)
        elif output.deltas and not output.ends_with_newline:
            out.write("\n")
            out.flush()
        line = f"libchatty: error: {_describe(error)}"
        hint = _hint(error, base_url, resolved)
        err.write(line + (f"\nlibchatty: hint: {hint}" if hint else "") + "\n")
        if args.debug:
            raise
        if args.stats:
            print_stats(output, None, stream, err)
        return EXIT_CHAT_ERROR
    if not stream:
        if args.json:
            output.write_json(
                Done(
                    finish_reason=completion.finish_reason,
                    text=completion.text,
                    reasoning=completion.reasoning,
                    tool_calls=tuple(completion.tool_calls),
                    usage=completion.usage,
                    raw_finish_reason=completion.raw_finish_reason,
                    refusal=completion.refusal,
                )
            )
        else:
            output.text(completion.text)
    if not args.json:
        output.tool_calls(completion.tool_calls)
    if not args.json and not output.ends_with_newline:
        out.write("\n")
        out.flush()
    if args.stats:
        print_stats(output, completion.usage, completion.streamed, err)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (the console script exits with it).
    ``libchatty batch ...`` is the batch front end (:mod:`libchatty.bindings.batch`)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["batch"]:
        from .batch import main as batch_main

        return batch_main(argv[1:])
    # The plain command lines skip argparse (its import and parser cost more than a
    # streamed answer from a local server); anything else gets argparse's reading.
    args = quick_parse(argv)
    if args is None:
        args = _parser().parse_args(argv, namespace=SimpleNamespace())
    out, err = sys.stdout, sys.stderr
    try:
        return _run(args, out, err)
    except UsageError as exc:
        err.write(f"libchatty: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        err.write("\nlibchatty: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`libchatty ... | head`): not an error worth a message.
        _silence_stdout()
        return EXIT_OK
    except Exception as exc:
        if args.debug:
            raise
        err.write(f"libchatty: error: {type(exc).__name__}: {exc}\n")
        err.write("libchatty: hint: run again with --debug for the traceback\n")
        return EXIT_CHAT_ERROR


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
