"""A fake Telegram Bot API server for end-to-end tests of the bot.

The real Bot API is unreachable from tests, and it is strict in ways a mock object would hide:
it refuses HTML it cannot parse, texts over 4096 characters, edits of unknown or unchanged
messages. This server speaks the subset of the Bot API the bot uses over real HTTP, so
python-telegram-bot runs unmodified against it, and it is at least as strict as Telegram about
message texts (stricter in one place: a bare "&" is refused, see `parse_html`).

    with FakeTelegram(token="123:ABC") as tg:
        app = ApplicationBuilder().token(tg.token).base_url(tg.base_url) \
            .base_file_url(tg.base_file_url).build()
        ...
        tg.push_message(42, "hello")
        method, params = await tg.async_wait_for("sendMessage")

Lengths are counted in UTF-16 code units (an emoji counts 2), never less than what Telegram
counts, so text that passes here passes there.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import logging
import re
import select
import socket
import sys
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

_LOGGER = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 4096
MAX_CAPTION_CHARS = 1024
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024  # getFile refuses bigger files
MAX_CALLBACK_DATA_BYTES = 64

Params = dict[str, Any]
Predicate = Callable[[str, Params], bool]

# ---------------------------------------------------------------------------------------------
# Message text validation (shared with the formatter's tests)
# ---------------------------------------------------------------------------------------------

_ENTITY_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
# "&" must start one of the references Telegram knows; "<" must start a tag.
_BAD_AMPERSAND = re.compile(r"&(?!(?:lt|gt|amp|quot|#[0-9]+|#[xX][0-9a-fA-F]+);)")
_BAD_LESS_THAN = re.compile(r"<(?!/?[a-zA-Z])")
_NAMED_REFERENCES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


class _ClientGone(Exception):
    """The client hung up while its request waited (PTB cancels a long poll on shutdown)."""


class ApiError(Exception):
    """A Bot API error response: `{"ok": false, "error_code": ..., "description": ...}`."""

    def __init__(self, description: str, error_code: int = 400, parameters: dict | None = None):
        super().__init__(description)
        self.description = description
        self.error_code = error_code
        self.parameters = parameters


def bad_request(reason: str) -> ApiError:
    return ApiError(f"Bad Request: {reason}")


def utf16_len(text: str) -> int:
    """Telegram measures texts and entity offsets in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


class _HtmlEntityParser(HTMLParser):
    """Telegram's HTML subset: allowed tags only, properly nested, no stray "<" or "&"."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=False)
        self.source = source
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", source)]
        self.parts: list[str] = []
        self.length = 0  # UTF-16 units of text so far
        self.open: list[tuple[str, int, dict[str, str | None]]] = []  # tag, offset, attributes
        self.entities: list[dict[str, Any]] = []

    def fail(self, reason: str) -> None:
        raise bad_request(f"can't parse entities: {reason} at byte offset {self.byte_offset()}")

    def byte_offset(self) -> int:
        line, column = self.getpos()
        index = self.line_starts[line - 1] + column
        return len(self.source[:index].encode())

    def add_text(self, text: str) -> None:
        self.parts.append(text)
        self.length += utf16_len(text)

    def handle_data(self, data: str) -> None:
        if "<" in data:  # what HTMLParser leaves of an unterminated tag
            self.fail("Unclosed start tag")
        self.add_text(data)

    def handle_entityref(self, name: str) -> None:
        if name not in _NAMED_REFERENCES:
            self.fail(f'Unsupported HTML entity "&{name};"')
        self.add_text(_NAMED_REFERENCES[name])

    def handle_charref(self, name: str) -> None:
        code = int(name[1:], 16) if name[:1] in "xX" else int(name)
        if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            self.fail(f'Invalid character reference "&#{name};"')
        self.add_text(chr(code))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag not in _ENTITY_TYPES:
            self.fail(f'Unsupported start tag "{tag}"')
        if tag == "span" and attributes.get("class") != "tg-spoiler":
            self.fail('Tag "span" must have class "tg-spoiler"')
        if tag == "tg-emoji" and not attributes.get("emoji-id"):
            self.fail('Tag "tg-emoji" must have attribute "emoji-id"')
        self.open.append((tag, self.length, attributes))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.fail(f'Unsupported start tag "{tag}/"')

    def handle_endtag(self, tag: str) -> None:
        if not self.open:
            self.fail(f'Unexpected end tag "{tag}"')
        expected, offset, attributes = self.open.pop()
        if tag != expected:
            self.fail(f'Unmatched end tag, expected "</{expected}>", found "</{tag}>"')
        if self.length > offset:
            self.entities.append(self.entity(tag, offset, attributes))

    def entity(self, tag: str, offset: int, attributes: dict[str, str | None]) -> dict[str, Any]:
        entity: dict[str, Any] = {
            "type": _ENTITY_TYPES[tag],
            "offset": offset,
            "length": self.length - offset,
        }
        if tag == "a" and attributes.get("href"):
            entity["url"] = attributes["href"]
        elif tag == "blockquote" and "expandable" in attributes:
            entity["type"] = "expandable_blockquote"
        elif tag == "code" and (attributes.get("class") or "").startswith("language-"):
            entity["language"] = (attributes["class"] or "").removeprefix("language-")
        elif tag == "tg-emoji":
            entity["custom_emoji_id"] = attributes["emoji-id"]
        return entity

    def handle_comment(self, data: str) -> None:
        self.fail("Unsupported comment")

    def handle_decl(self, decl: str) -> None:
        self.fail("Unsupported declaration")

    def handle_pi(self, data: str) -> None:
        self.fail("Unsupported processing instruction")

    def unknown_decl(self, data: str) -> None:
        self.fail("Unsupported declaration")

    def close(self) -> None:
        super().close()
        if self.open:
            raise bad_request(
                "can't parse entities: Can't find end tag corresponding to start tag "
                f'"{self.open[-1][0]}"'
            )


def parse_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram HTML into (plain text, entities with UTF-16 offsets); raise `ApiError`.

    Stricter than Telegram in one respect: a "&" that doesn't start &lt; &gt; &amp; &quot; or a
    numeric reference is refused (Telegram would show it literally), so unescaped text is caught.
    """
    for pattern, what in ((_BAD_AMPERSAND, '"&"'), (_BAD_LESS_THAN, '"<"')):
        match = pattern.search(text)
        if match:
            offset = len(text[: match.start()].encode())
            raise bad_request(
                f"can't parse entities: Unescaped {what} at byte offset {offset}; "
                "use &amp; &lt; &gt; or a numeric character reference"
            )
    parser = _HtmlEntityParser(text)
    parser.feed(text)
    parser.close()
    entities = sorted(parser.entities, key=lambda e: (e["offset"], -e["length"]))
    return "".join(parser.parts), entities


def check_text(
    text: str | None,
    parse_mode: str | None = None,
    entities: list[dict[str, Any]] | None = None,
    *,
    limit: int = MAX_MESSAGE_CHARS,
    caption: bool = False,
) -> tuple[str, list[dict[str, Any]]]:
    """Validate a message text (or caption) as Telegram does; return what it would store.

    Only HTML is parsed; Markdown texts are stored as they are, unchecked.
    """
    raw = text or ""
    if (parse_mode or "").lower() == "html":
        plain, parsed = parse_html(raw)
    else:
        plain, parsed = raw, list(entities or [])
    plain, parsed = _strip(plain, parsed)
    if not plain and not caption:
        raise bad_request("message text is empty")
    if utf16_len(plain) > limit:
        raise bad_request("message caption is too long" if caption else "message is too long")
    return plain, parsed


def validate_html(text: str, *, limit: int = MAX_MESSAGE_CHARS) -> str | None:
    """The error Telegram would give for sending `text` with parse_mode HTML, or None if fine."""
    try:
        check_text(text, "HTML", limit=limit)
    except ApiError as error:
        return error.description
    return None


def _strip(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Telegram drops leading and trailing whitespace and shifts entities to match."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    shift = utf16_len(text[: len(text) - len(text.lstrip())])
    end = utf16_len(stripped)
    kept = []
    for entity in entities:
        start = max(entity["offset"] - shift, 0)
        stop = min(entity["offset"] + entity["length"] - shift, end)
        if stop > start:
            kept.append({**entity, "offset": start, "length": stop - start})
    return stripped, kept


def auto_entities(text: str) -> list[dict[str, Any]]:
    """The entities a Telegram client attaches: a leading /command and @mentions.

    python-telegram-bot's CommandHandler only sees a command with a bot_command entity at 0.
    """
    entities = []
    command = re.match(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?", text)
    if command:
        entities.append({"type": "bot_command", "offset": 0, "length": command.end()})
    for match in re.finditer(r"(?<![\w/])@[A-Za-z0-9_]{4,32}", text):
        offset = utf16_len(text[: match.start()])
        entities.append({"type": "mention", "offset": offset, "length": utf16_len(match[0])})
    return entities


# ---------------------------------------------------------------------------------------------
# Request decoding
# ---------------------------------------------------------------------------------------------

_INT_FIELDS = {
    "chat_id",
    "message_id",
    "offset",
    "limit",
    "timeout",
    "user_id",
    "cache_time",
    "message_thread_id",
    "reply_to_message_id",
    "from_chat_id",
}
_JSON_FIELDS = {
    "reply_markup",
    "entities",
    "caption_entities",
    "allowed_updates",
    "commands",
    "scope",
    "link_preview_options",
    "reply_parameters",
    "media",
}
_BOOL_FIELDS = {
    "disable_notification",
    "protect_content",
    "drop_pending_updates",
    "show_alert",
    "allow_sending_without_reply",
    "disable_content_type_detection",
}


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """A file part of a multipart request."""

    filename: str | None
    content_type: str | None
    content: bytes


def decode_body(content_type: str, body: bytes, query: str = "") -> Params:
    """Parameters of a Bot API request, sent as query, form, multipart or JSON (as PTB may)."""
    params: Params = dict(parse_qsl(query, keep_blank_values=True))
    media_type = content_type.split(";")[0].strip().lower()
    if media_type == "application/json" and body:
        params.update(json.loads(body))
    elif media_type == "multipart/form-data":
        params.update(_decode_multipart(content_type, body))
    elif body:
        params.update(parse_qsl(body.decode(), keep_blank_values=True))
    return params


def _decode_multipart(content_type: str, body: bytes) -> Params:
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not match:
        raise bad_request("multipart request without boundary")
    fields: Params = {}
    for part in body.split(b"--" + match[1].encode())[1:]:
        if part.startswith(b"--"):
            break
        head, _, content = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        headers = _part_headers(head.decode())
        disposition = dict(_header_params(headers.get("content-disposition", "")))
        content = content.removesuffix(b"\r\n")
        if "filename" in disposition:
            fields[disposition["name"]] = UploadedFile(
                disposition["filename"], headers.get("content-type"), content
            )
        else:
            fields[disposition["name"]] = content.decode()
    # Files sent as "attach://name" are parts of their own name.
    for key, value in list(fields.items()):
        if isinstance(value, str) and value.startswith("attach://"):
            fields[key] = fields.get(value.removeprefix("attach://"), value)
    return fields


def _part_headers(head: str) -> dict[str, str]:
    headers = {}
    for line in head.split("\r\n"):
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return headers


def _header_params(header: str) -> list[tuple[str, str]]:
    return [
        (name.lower(), value.replace("%22", '"').replace("\\\\", "\\"))
        for name, value in re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', header)
    ]


def normalize(params: Params) -> Params:
    """Form fields arrive as strings; give numbers, flags and JSON fields their real types."""
    result = dict(params)
    for key, value in params.items():
        if not isinstance(value, str):
            continue
        if key in _INT_FIELDS and re.fullmatch(r"-?\d+", value):
            result[key] = int(value)
        elif key in _BOOL_FIELDS and value in ("true", "false", "True", "False"):
            result[key] = value.lower() == "true"
        elif key in _JSON_FIELDS:
            try:
                result[key] = json.loads(value)
            except ValueError:
                raise bad_request(f"can't parse {key} JSON object") from None
    return result


# ---------------------------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Response:
    status: int
    body: bytes
    content_type: str = "application/json"


@dataclass(slots=True)
class _Fault:
    error_code: int | str
    retry_after: int
    description: str | None
    echo_path: bool = False


@dataclass(slots=True)
class _StoredMessage:
    message: dict[str, Any]
    from_bot: bool
    raw_text: str | None = None
    parse_mode: str | None = None


_CHAT_ACTIONS = {
    "typing",
    "upload_photo",
    "record_video",
    "upload_video",
    "record_voice",
    "upload_voice",
    "upload_document",
    "choose_sticker",
    "find_location",
    "record_video_note",
    "upload_video_note",
}
_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)


class FakeTelegram:
    """A Bot API server on 127.0.0.1 with test controls; every public method is thread-safe.

    `max_poll_seconds` caps getUpdates' long polling so a test never waits on a 10 s poll.
    """

    def __init__(
        self,
        token: str = "123:ABC",
        *,
        bot_username: str = "newsbot_test_bot",
        bot_name: str = "NewsBot",
        max_poll_seconds: float = 1.0,
        port: int = 0,
    ) -> None:
        self.token = token
        self.max_poll_seconds = max_poll_seconds
        self._requested_port = port
        bot_id = int(token.split(":")[0]) if token.split(":")[0].isdigit() else 1
        self.bot_user: dict[str, Any] = {
            "id": bot_id,
            "is_bot": True,
            "first_name": bot_name,
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self._cond = threading.Condition()
        self._requests: list[tuple[str, Params]] = []
        self._errors: list[tuple[str, Params, int, str]] = []
        self._unknown_methods: list[str] = []
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids: defaultdict[int, itertools.count] = defaultdict(
            lambda: itertools.count(1)
        )
        self._messages: dict[tuple[int, int], _StoredMessage] = {}
        self._bot_messages: list[tuple[int, int]] = []  # in the order they were sent
        self._chats: dict[int, dict[str, Any]] = {}
        self._callback_queries: set[str] = set()
        self._callback_ids = itertools.count(1)
        self._files: dict[str, dict[str, Any]] = {}  # file_id -> File + "content"
        self._file_numbers = itertools.count(1)
        self._commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self._faults: defaultdict[str, deque[_Fault]] = defaultdict(deque)
        self._poll_generation = 0
        self._stopping = False
        self._connections: set[socket.socket] = set()
        self._busy = 0  # requests being handled and answered
        self._local = threading.local()  # .connection: the socket of the request being handled
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._methods: dict[str, Callable[[Params], Any]] = {
            "getme": self._get_me,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "getupdates": self._get_updates,
            "sendmessage": self._send_message,
            "editmessagetext": self._edit_message_text,
            "editmessagereplymarkup": self._edit_message_reply_markup,
            "deletemessage": self._delete_message,
            "answercallbackquery": self._answer_callback_query,
            "sendchataction": self._send_chat_action,
            "setmycommands": self._set_my_commands,
            "getmycommands": self._get_my_commands,
            "deletemycommands": self._delete_my_commands,
            "getfile": self._get_file,
            "senddocument": self._send_document,
        }

    # --- life cycle ------------------------------------------------------------------------

    def start(self) -> FakeTelegram:
        self._stopping = False
        self._server = _Server(("127.0.0.1", self._requested_port), _Handler)
        self._requested_port = self._server.server_address[1]  # resume() comes back here
        self._server.fake = self
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="FakeTelegram",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake long polls and drop kept-alive connections, so nothing lingers."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._server is None:
            return
        self._server.shutdown()
        with self._cond:
            # Let woken polls write their answer; then only idle keep-alive connections remain.
            self._cond.wait_for(lambda: self._busy == 0, timeout=2)
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)
        self._server = None

    def pause(self) -> None:
        """Go off the network, keeping all state: connections are refused until `resume`."""
        self.stop()

    def resume(self) -> None:
        """Listen again on the same port, as a server back from an outage."""
        self.start()

    def __enter__(self) -> FakeTelegram:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeTelegram is not running")
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        """For PTB's `base_url`: PTB appends the token and "/<method>"."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    @property
    def bot_username(self) -> str:
        return self.bot_user["username"]

    # --- inspection ------------------------------------------------------------------------

    @property
    def requests(self) -> list[tuple[str, Params]]:
        """Every API request received, failed ones included, as (method as sent, params)."""
        with self._cond:
            return list(self._requests)

    @property
    def errors(self) -> list[tuple[str, Params, int, str]]:
        """Every error answered: (method, params, error_code, description). [] in a good run."""
        with self._cond:
            return list(self._errors)

    @property
    def unknown_methods(self) -> list[str]:
        with self._cond:
            return list(self._unknown_methods)

    def sent_messages(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """Messages the bot sent, in order, as they are now (after edits; deleted ones gone).

        Each is the Message Telegram returned plus "raw_text" and "parse_mode" as sent.
        """
        with self._cond:
            result = []
            for key in self._bot_messages:
                stored = self._messages.get(key)
                if stored is None or (chat_id is not None and key[0] != chat_id):
                    continue
                message = copy.deepcopy(stored.message)
                message["raw_text"] = stored.raw_text
                message["parse_mode"] = stored.parse_mode
                result.append(message)
            return result

    def wait_for(
        self, predicate: str | Predicate, timeout: float = 10, *, since: int = 0
    ) -> tuple[str, Params]:
        """Block until a request from index `since` on matches; return it.

        `predicate` is a method name (any case) or `f(method, params) -> bool`. Blocks the
        calling thread: from a coroutine on the bot's event loop use `async_wait_for`.
        """
        match = _as_predicate(predicate)
        deadline = time.monotonic() + timeout
        with self._cond:
            checked = since
            while True:
                for method, params in self._requests[checked:]:
                    if match(method, params):
                        return method, params
                checked = max(checked, len(self._requests))
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [method for method, _ in self._requests[since:]]
                    raise TimeoutError(f"no matching request within {timeout} s; got {seen}")
                self._cond.wait(remaining)

    async def async_wait_for(
        self, predicate: str | Predicate, timeout: float = 10, *, since: int = 0
    ) -> tuple[str, Params]:
        """`wait_for` without blocking the event loop the bot under test runs on."""
        return await asyncio.to_thread(self.wait_for, predicate, timeout, since=since)

    # --- fault injection -------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        n: int = 1,
        error_code: int | str = 429,
        retry_after: int = 1,
        description: str | None = None,
        *,
        echo_path: bool = False,
    ) -> None:
        """Answer the next `n` calls of `method` with an error instead of handling them.

        error_code 429: "Too Many Requests" with parameters.retry_after (PTB: RetryAfter);
        502: an nginx "Bad Gateway" HTML page (PTB: NetworkError); "close": drop the connection
        without answering, the request not carried out (PTB: NetworkError); any other code: a
        JSON error with `description`. `echo_path`: the error names the request path, token
        included, as some proxies and gateways do.

        Faults after which the request *was* carried out, so its outcome is unknown to the
        client: "close_after" handles the request, then drops the connection unanswered;
        "hold" handles it, then keeps the answer back until the client gives up (a read
        timeout) or 30 s pass.
        """
        with self._cond:
            fault = _Fault(error_code, retry_after, description, echo_path)
            self._faults[method.lower()].extend([fault] * n)

    # --- pushing updates -------------------------------------------------------------------

    def push_update(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Queue an update (`payload` without update_id) for getUpdates; return it."""
        with self._cond:
            update = {"update_id": next(self._update_ids), **payload}
            self._updates.append(update)
            self._cond.notify_all()
            return copy.deepcopy(update)

    def push_message(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        chat_type: str = "private",
        language_code: str = "en",
        reply_to_bot: bool | int = False,
        entities: list[dict[str, Any]] | None = None,
        message_id: int | None = None,
    ) -> dict[str, Any]:
        """A user's text message. Entities default to what a client adds (/command, @mention).

        `reply_to_bot` makes it a reply to the bot's last message in the chat (or to the bot
        message with that id when an int).
        """
        fields: dict[str, Any] = {"text": text}
        found = auto_entities(text) if entities is None else entities
        if found:
            fields["entities"] = found
        if reply_to_bot:
            fields["reply_to_message"] = self._bot_message_to_reply_to(chat_id, reply_to_bot)
        message = self._user_message(
            chat_id, user_id, chat_type, language_code, fields, message_id=message_id
        )
        return self.push_update({"message": message})

    def push_callback_query(
        self, chat_id: int, message_id: int, data: str, *, user_id: int | None = None
    ) -> dict[str, Any]:
        """A press of an inline button with `data` under message `message_id`."""
        with self._cond:
            stored = self._messages.get((chat_id, message_id))
            message = (
                copy.deepcopy(stored.message)
                if stored
                else {"chat": self._chat(chat_id), "message_id": message_id, "date": 0}
            )
            query_id = str(next(self._callback_ids))
            self._callback_queries.add(query_id)
            if user_id is None:
                user_id = chat_id if chat_id > 0 else 1001
            user = self._user(user_id, "en")
        query = {
            "id": query_id,
            "from": user,
            "message": message,
            "chat_instance": str(chat_id),
            "data": data,
        }
        return self.push_update({"callback_query": query})

    def push_document(
        self,
        chat_id: int,
        filename: str,
        content: bytes,
        *,
        user_id: int | None = None,
        mime_type: str = "text/plain",
        caption: str | None = None,
        chat_type: str = "private",
    ) -> dict[str, Any]:
        """A user's document; the bot can fetch it with getFile and download it."""
        file = self.register_file(content, kind="documents", filename=filename)
        document = {**_public_file(file), "file_name": filename, "mime_type": mime_type}
        fields: dict[str, Any] = {"document": document}
        if caption:
            fields["caption"] = caption
        message = self._user_message(chat_id, user_id, chat_type, "en", fields)
        return self.push_update({"message": message})

    def push_photo(
        self,
        chat_id: int,
        content: bytes = b"\x89PNG fake",
        *,
        user_id: int | None = None,
        caption: str | None = None,
        chat_type: str = "private",
    ) -> dict[str, Any]:
        file = self.register_file(content, kind="photos", filename="photo.jpg")
        photo = [{**_public_file(file), "width": 640, "height": 480}]
        fields: dict[str, Any] = {"photo": photo}
        if caption:
            fields["caption"] = caption
        message = self._user_message(chat_id, user_id, chat_type, "en", fields)
        return self.push_update({"message": message})

    def push_sticker(
        self,
        chat_id: int,
        *,
        emoji: str = "👍",
        user_id: int | None = None,
        chat_type: str = "private",
    ) -> dict[str, Any]:
        file = self.register_file(b"RIFF fake webp", kind="stickers", filename="sticker.webp")
        sticker = {
            **_public_file(file),
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
        message = self._user_message(chat_id, user_id, chat_type, "en", {"sticker": sticker})
        return self.push_update({"message": message})

    def register_file(
        self, content: bytes, *, kind: str = "documents", filename: str | None = None
    ) -> dict[str, Any]:
        """Make `content` downloadable via getFile; return its File object."""
        with self._cond:
            number = next(self._file_numbers)
            suffix = filename.rsplit(".", 1)[1] if filename and "." in filename else "bin"
            file = {
                "file_id": f"file-{number}",
                "file_unique_id": f"unique-{number}",
                "file_size": len(content),
                "file_path": f"{kind}/file_{number}.{suffix}",
            }
            self._files[file["file_id"]] = {**file, "content": content}
            return dict(file)

    @staticmethod
    def make_update(update_dict: dict[str, Any], bot: Any) -> Any:
        """A `telegram.Update` for `application.process_update(...)` without polling."""
        from telegram import Update

        return Update.de_json(update_dict, bot)

    # --- state helpers (call with self._cond held or from a single thread) ------------------

    def _user(self, user_id: int, language_code: str) -> dict[str, Any]:
        return {
            "id": user_id,
            "is_bot": False,
            "first_name": f"User{user_id}",
            "username": f"user{user_id}",
            "language_code": language_code,
        }

    def _chat(self, chat_id: int, chat_type: str | None = None) -> dict[str, Any]:
        known = self._chats.get(chat_id)
        if known and (chat_type is None or known["type"] == chat_type):
            return dict(known)
        chat_type = chat_type or ("private" if chat_id > 0 else "group")
        if chat_type == "private":
            chat = {"id": chat_id, "type": "private", "first_name": f"User{chat_id}"}
        else:
            chat = {"id": chat_id, "type": chat_type, "title": f"Test {chat_type}"}
        self._chats[chat_id] = chat
        return dict(chat)

    def _user_message(
        self,
        chat_id: int,
        user_id: int | None,
        chat_type: str,
        language_code: str,
        fields: dict[str, Any],
        *,
        message_id: int | None = None,
    ) -> dict[str, Any]:
        if user_id is None:
            user_id = chat_id if chat_type == "private" else 1001
        with self._cond:
            message = {
                "message_id": message_id or next(self._message_ids[chat_id]),
                "from": self._user(user_id, language_code),
                "chat": self._chat(chat_id, chat_type),
                "date": int(time.time()),
                **fields,
            }
            self._messages[(chat_id, message["message_id"])] = _StoredMessage(message, False)
            return copy.deepcopy(message)

    def _bot_message_to_reply_to(self, chat_id: int, which: bool | int) -> dict[str, Any]:
        with self._cond:
            keys = [key for key in self._bot_messages if key[0] == chat_id]
            if which is not True:
                keys = [key for key in keys if key[1] == which]
            if keys and keys[-1] in self._messages:
                return _without_reply(self._messages[keys[-1]].message)
            # No such bot message: reply to one Telegram would know, outside what the test sees.
            return {
                "message_id": which if which is not True else 10_000,
                "from": dict(self.bot_user),
                "chat": self._chat(chat_id),
                "date": int(time.time()),
                "text": "(earlier bot message)",
            }

    def _stored(self, params: Params, missing: str) -> tuple[tuple[int, int], _StoredMessage]:
        key = (_chat_id(params), params.get("message_id"))
        stored = self._messages.get(key)  # type: ignore[arg-type]
        if stored is None:
            raise bad_request(missing)
        return key, stored  # type: ignore[return-value]

    def _new_bot_message(
        self, params: Params, fields: dict[str, Any], raw_text: str | None
    ) -> dict[str, Any]:
        chat_id = _chat_id(params)
        message: dict[str, Any] = {
            "message_id": next(self._message_ids[chat_id]),
            "from": dict(self.bot_user),
            "chat": self._chat(chat_id),
            "date": int(time.time()),
        }
        reply_to = self._reply_target(params, chat_id)
        if reply_to:
            message["reply_to_message"] = reply_to
        message.update({key: value for key, value in fields.items() if value})
        key = (chat_id, message["message_id"])
        self._messages[key] = _StoredMessage(message, True, raw_text, params.get("parse_mode"))
        self._bot_messages.append(key)
        return copy.deepcopy(message)

    def _reply_target(self, params: Params, chat_id: int) -> dict[str, Any] | None:
        reply = params.get("reply_parameters") or {}
        message_id = reply.get("message_id") or params.get("reply_to_message_id")
        if not message_id:
            return None
        stored = self._messages.get((reply.get("chat_id", chat_id), message_id))
        if stored:
            return _without_reply(stored.message)
        if reply.get("allow_sending_without_reply") or params.get("allow_sending_without_reply"):
            return None
        raise bad_request("message to be replied not found")

    # --- HTTP entry point ------------------------------------------------------------------

    def _handle(self, path: str, query: str, content_type: str, body: bytes) -> _Response | None:
        """Answer one HTTP request; None means: drop the connection without an answer."""
        file_prefix = f"/file/bot{self.token}/"
        if path.startswith(file_prefix):
            return self._download(path.removeprefix(file_prefix))
        match = re.fullmatch(r"/bot([^/]+)/([A-Za-z]+)", path)
        if not match:
            return _json_response(404, _error_body(404, "Not Found"))
        token, method = match.groups()
        try:
            params = normalize(decode_body(content_type, body, query))
        except ApiError as error:
            return self._error(method, {}, error)
        except ValueError as error:
            return self._error(method, {}, bad_request(f"can't parse request: {error}"))
        with self._cond:
            self._requests.append((method, params))
            self._cond.notify_all()
            fault = self._pop_fault(method)
        if token != self.token:
            return self._error(method, params, ApiError("Unauthorized", 401))
        if fault and fault.error_code not in ("close_after", "hold"):
            return self._faulty(method, params, fault, path)
        handler = self._methods.get(method.lower())
        if handler is None:
            with self._cond:
                self._unknown_methods.append(method)
            return self._error(method, params, ApiError("Not Found", 404))
        try:
            result = handler(params)
        except ApiError as error:
            return self._error(method, params, error)
        except _ClientGone:
            return None
        if fault:  # carried out; the answer is lost on the way back
            self._record_error(method, params, 0, f"{fault.error_code}: answer not delivered")
            if fault.error_code == "hold":
                self._hold_until_client_gone(timeout=30)
            return None
        return _json_response(200, {"ok": True, "result": result})

    def _hold_until_client_gone(self, timeout: float) -> None:
        connection = getattr(self._local, "connection", None)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not _client_gone(connection) and not self._stopping:
            time.sleep(0.02)

    def _pop_fault(self, method: str) -> _Fault | None:
        faults = self._faults.get(method.lower())
        return faults.popleft() if faults else None

    def _faulty(self, method: str, params: Params, fault: _Fault, path: str) -> _Response | None:
        if fault.error_code == "close":
            self._record_error(method, params, 0, "connection closed")
            return None
        where = f" for POST {path}" if fault.echo_path else ""
        if fault.error_code == 502:
            self._record_error(method, params, 502, "Bad Gateway")
            page = f"<html><head><title>502 Bad Gateway{where}</title></head></html>\r\n"
            return _Response(502, page.encode(), "text/html")
        if fault.echo_path:
            description = f"{fault.description or 'Bad Request: gateway refused'}{where}"
            return self._error(method, params, ApiError(description, int(fault.error_code)))
        if fault.error_code == 429:
            description = fault.description or f"Too Many Requests: retry after {fault.retry_after}"
            parameters = {"retry_after": fault.retry_after}
            return self._error(method, params, ApiError(description, 429, parameters))
        code = int(fault.error_code)
        return self._error(method, params, ApiError(fault.description or "Injected error", code))

    def _error(self, method: str, params: Params, error: ApiError) -> _Response:
        self._record_error(method, params, error.error_code, error.description)
        body = _error_body(error.error_code, error.description)
        if error.parameters:
            body["parameters"] = error.parameters
        return _json_response(error.error_code, body)

    def _record_error(self, method: str, params: Params, code: int, description: str) -> None:
        with self._cond:
            self._errors.append((method, params, code, description))

    def _download(self, file_path: str) -> _Response:
        with self._cond:
            for file in self._files.values():
                if file["file_path"] == file_path:
                    return _Response(200, file["content"], "application/octet-stream")
        return _json_response(404, _error_body(404, "Not Found"))

    # --- Bot API methods -------------------------------------------------------------------

    def _get_me(self, params: Params) -> dict[str, Any]:
        return dict(self.bot_user)

    def _delete_webhook(self, params: Params) -> bool:
        if params.get("drop_pending_updates"):
            with self._cond:
                self._updates.clear()
        return True

    def _get_webhook_info(self, params: Params) -> dict[str, Any]:
        with self._cond:
            pending = len(self._updates)
        return {"url": "", "has_custom_certificate": False, "pending_update_count": pending}

    def _get_updates(self, params: Params) -> list[dict[str, Any]]:
        """Long polling: confirm updates below `offset`, wait up to `timeout` (capped) for more.

        A newer getUpdates ends an older one with 409 Conflict, as Telegram does.
        """
        offset = params.get("offset") or 0
        limit = min(max(params.get("limit") or 100, 1), 100)
        allowed = params.get("allowed_updates") or []
        wait = min(float(params.get("timeout") or 0), self.max_poll_seconds)
        deadline = time.monotonic() + wait
        with self._cond:
            self._poll_generation += 1
            generation = self._poll_generation
            self._cond.notify_all()
            while True:
                if generation != self._poll_generation:
                    if _client_gone(getattr(self._local, "connection", None)):
                        raise _ClientGone
                    raise ApiError(
                        "Conflict: terminated by other getUpdates request; make sure that only "
                        "one bot instance is running",
                        409,
                    )
                ready = self._pending_updates(offset, allowed)
                remaining = deadline - time.monotonic()
                if ready or remaining <= 0 or self._stopping:
                    return copy.deepcopy(ready[:limit])
                self._cond.wait(remaining)

    def _pending_updates(self, offset: int, allowed: list[str]) -> list[dict[str, Any]]:
        if offset < 0:
            return self._updates[offset:]
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        return [u for u in self._updates if not allowed or set(u) & set(allowed)]

    def _send_message(self, params: Params) -> dict[str, Any]:
        text, entities = check_text(
            params.get("text"), params.get("parse_mode"), params.get("entities")
        )
        markup = _check_reply_markup(params.get("reply_markup"))
        with self._cond:
            fields = {"text": text, "entities": entities, "reply_markup": markup}
            return self._new_bot_message(params, fields, params.get("text"))

    def _send_document(self, params: Params) -> dict[str, Any]:
        caption, entities = check_text(
            params.get("caption"),
            params.get("parse_mode"),
            params.get("caption_entities"),
            limit=MAX_CAPTION_CHARS,
            caption=True,
        )
        markup = _check_reply_markup(params.get("reply_markup"))
        document = params.get("document")
        if isinstance(document, UploadedFile):
            file = self.register_file(document.content, filename=document.filename)
            meta = {"file_name": document.filename, "mime_type": document.content_type}
            public = {**_public_file(file), **{k: v for k, v in meta.items() if v}}
        else:
            with self._cond:
                known = self._files.get(str(document))
            if known is None:
                raise bad_request("wrong file identifier/HTTP URL specified")
            public = _public_file(known)
        with self._cond:
            fields = {
                "document": public,
                "caption": caption,
                "caption_entities": entities,
                "reply_markup": markup,
            }
            return self._new_bot_message(params, fields, params.get("caption"))

    def _edit_message_text(self, params: Params) -> dict[str, Any] | bool:
        """Like Telegram: the markup is replaced too (omitting it removes the buttons)."""
        text, entities = check_text(
            params.get("text"), params.get("parse_mode"), params.get("entities")
        )
        markup = _check_reply_markup(params.get("reply_markup"))
        if params.get("inline_message_id"):
            return True
        with self._cond:
            _, stored = self._stored(params, "message to edit not found")
            message = stored.message
            if not stored.from_bot:
                raise bad_request("message can't be edited")
            if "text" not in message:
                raise bad_request("there is no text in the message to edit")
            old = (message["text"], message.get("entities", []), message.get("reply_markup"))
            if old == (text, entities, markup):
                raise bad_request(_NOT_MODIFIED)
            _set_fields(message, {"text": text, "entities": entities, "reply_markup": markup})
            message["edit_date"] = int(time.time())
            stored.raw_text = params.get("text")
            stored.parse_mode = params.get("parse_mode")
            return copy.deepcopy(message)

    def _edit_message_reply_markup(self, params: Params) -> dict[str, Any] | bool:
        markup = _check_reply_markup(params.get("reply_markup"))
        if params.get("inline_message_id"):
            return True
        with self._cond:
            _, stored = self._stored(params, "message to edit not found")
            if not stored.from_bot:
                raise bad_request("message can't be edited")
            if stored.message.get("reply_markup") == markup:
                raise bad_request(_NOT_MODIFIED)
            _set_fields(stored.message, {"reply_markup": markup})
            stored.message["edit_date"] = int(time.time())
            return copy.deepcopy(stored.message)

    def _delete_message(self, params: Params) -> bool:
        with self._cond:
            key, _ = self._stored(params, "message to delete not found")
            del self._messages[key]
        return True

    def _answer_callback_query(self, params: Params) -> bool:
        with self._cond:
            query_id = str(params.get("callback_query_id"))
            if query_id not in self._callback_queries:
                raise bad_request(
                    "query is too old and response timeout expired or query ID is invalid"
                )
            self._callback_queries.discard(query_id)
        if len(params.get("text") or "") > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        return True

    def _send_chat_action(self, params: Params) -> bool:
        _chat_id(params)
        if params.get("action") not in _CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    def _set_my_commands(self, params: Params) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request("commands must be a list of at most 100 BotCommand")
        for command in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(command.get("command", ""))):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", "")).strip()) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        with self._cond:
            self._commands[_commands_key(params)] = [
                {"command": c["command"], "description": c["description"]} for c in commands
            ]
        return True

    def _get_my_commands(self, params: Params) -> list[dict[str, str]]:
        with self._cond:
            return copy.deepcopy(self._commands.get(_commands_key(params), []))

    def _delete_my_commands(self, params: Params) -> bool:
        with self._cond:
            self._commands.pop(_commands_key(params), None)
        return True

    def _get_file(self, params: Params) -> dict[str, Any]:
        with self._cond:
            file = self._files.get(str(params.get("file_id")))
        if file is None:
            raise bad_request("invalid file_id")
        if file["file_size"] > MAX_DOWNLOAD_BYTES:
            raise bad_request("file is too big")
        return {key: value for key, value in file.items() if key != "content"}


def _as_predicate(predicate: str | Predicate) -> Predicate:
    if isinstance(predicate, str):
        name = predicate.lower()
        return lambda method, params: method.lower() == name
    return predicate


def _client_gone(connection: socket.socket | None) -> bool:
    """True when the peer has closed `connection` (readable, yet nothing to read)."""
    if connection is None:
        return False
    try:
        readable, _, _ = select.select([connection], [], [], 0)
        return bool(readable) and connection.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def _chat_id(params: Params) -> int:
    chat_id = params.get("chat_id")
    if chat_id in (None, ""):
        raise bad_request("chat_id is empty")
    if not isinstance(chat_id, int):
        raise bad_request("chat not found")
    return chat_id


def _commands_key(params: Params) -> tuple[str, str]:
    scope = params.get("scope") or {"type": "default"}
    return json.dumps(scope, sort_keys=True), params.get("language_code") or ""


def _public_file(file: dict[str, Any]) -> dict[str, Any]:
    return {key: file[key] for key in ("file_id", "file_unique_id", "file_size")}


def _without_reply(message: dict[str, Any]) -> dict[str, Any]:
    """Telegram doesn't nest reply_to_message inside a reply_to_message."""
    return {k: copy.deepcopy(v) for k, v in message.items() if k != "reply_to_message"}


def _set_fields(message: dict[str, Any], fields: dict[str, Any]) -> None:
    """Set fields, dropping empty ones, as Telegram omits them from Message objects."""
    for key, value in fields.items():
        if value:
            message[key] = value
        else:
            message.pop(key, None)


def _check_reply_markup(markup: Any) -> dict[str, Any] | None:
    """Validate an inline keyboard; return what Telegram echoes in the Message (inline only)."""
    if not isinstance(markup, dict) or "inline_keyboard" not in markup:
        return None
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request("can't parse inline keyboard button: field inline_keyboard is invalid")
    for button in (button for row in rows for button in row):
        if not str(button.get("text", "")).strip():
            raise bad_request("BUTTON_TEXT_INVALID")
        data = button.get("callback_data")
        if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA_BYTES:
            raise bad_request("BUTTON_DATA_INVALID")
        url = button.get("url")
        if url is not None and not re.match(r"(https?|tg)://", str(url)):
            raise bad_request("BUTTON_URL_INVALID")
        actions = set(button) - {"text", "style", "icon_custom_emoji_id"}
        if not actions:
            raise bad_request("text buttons are unallowed in the inline keyboard")
    return markup if any(rows) else None


def _error_body(code: int, description: str) -> dict[str, Any]:
    return {"ok": False, "error_code": code, "description": description}


def _json_response(status: int, payload: Any) -> _Response:
    return _Response(status, json.dumps(payload, ensure_ascii=False).encode())


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeTelegram

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (PTB cancelling a long poll) is normal; anything else isn't."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as PTB's httpx client expects
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.fake._cond:
            self.server.fake._connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.fake._cond:
                self.server.fake._connections.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        _LOGGER.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        fake = self.server.fake
        with fake._cond:
            fake._busy += 1
        try:
            self._answer()
        finally:
            with fake._cond:
                fake._busy -= 1
                fake._cond.notify_all()

    def _answer(self) -> None:
        url = urlsplit(self.path)
        body = self._read_body()
        self.server.fake._local.connection = self.connection
        try:
            response = self.server.fake._handle(
                unquote(url.path), url.query, self.headers.get("Content-Type", ""), body
            )
        except Exception as error:  # a bug in the fake: say so loudly, in the test output too
            _LOGGER.exception("FakeTelegram failed on %s", url.path)
            response = _json_response(500, _error_body(500, f"FakeTelegram bug: {error!r}"))
        if response is None:
            self.close_connection = True
            return
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)
        except ConnectionError:
            self.close_connection = True

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            self.rfile.readline()
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))
