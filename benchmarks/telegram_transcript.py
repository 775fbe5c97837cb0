"""A real exchange with `newsbot telegram` against the fake Bot API server, printed.

Usage: .venv/bin/python -m benchmarks.telegram_transcript [INDEX_DIR]
Starts the bot as a subprocess (real model), asks a few questions as one private chat, presses
"More quotes", and prints what the bot sent. For notes and demos, not a test.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from tests.fakes.telegram import FakeTelegram

TOKEN = "123456:TRANSCRIPT-token"
CHAT = 4242
SHOWN = ("sendMessage", "answerCallbackQuery", "sendChatAction", "setMyCommands")
QUESTIONS = [
    ("/start", "de"),
    ("What conditions did Putin set?", "en"),
    ("And what did Zelensky say about it?", "en"),
    ("Who won the 2014 World Cup?", "en"),
    ("<b>Wer</b> reist nach Moskau? <script>x</script>", "de"),
]


def wait_for_reply(tg: FakeTelegram, before: int, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while len(tg.sent_messages()) <= before and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)  # let a split answer's later parts arrive


def converse(tg: FakeTelegram) -> None:
    for number, (text, language) in enumerate(QUESTIONS):
        before = len(tg.sent_messages())
        tg.push_message(CHAT, text, user_id=CHAT, language_code=language)
        wait_for_reply(tg, before)
        if number == 1:  # press "More quotes" under the first real answer
            button = next(m for m in reversed(tg.sent_messages()) if m.get("reply_markup"))
            data = button["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
            before = len(tg.sent_messages())
            tg.push_callback_query(CHAT, button["message_id"], data, user_id=CHAT)
            wait_for_reply(tg, before)


def main() -> None:
    index_dir = sys.argv[1] if len(sys.argv) > 1 else ".newsbot/index"
    with FakeTelegram(token=TOKEN, bot_username="newsbot_demo_bot") as tg:
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        env.update(TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_BASE_URL=tg.base_url)
        bot = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "telegram", "--index", index_dir],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            tg.wait_for("getUpdates", timeout=120)
            converse(tg)
        finally:
            bot.send_signal(signal.SIGINT)
            _, stderr = bot.communicate(timeout=30)
        for method, params in tg.requests:
            if method in SHOWN:
                shown = {k: v for k, v in params.items() if k not in ("chat_id", "parse_mode")}
                print(method, json.dumps(shown, ensure_ascii=False)[:600])
        print("errors:", tg.errors, "unknown methods:", tg.unknown_methods)
        print("exit code:", bot.returncode, "| token in stderr:", TOKEN in stderr)


if __name__ == "__main__":
    main()
