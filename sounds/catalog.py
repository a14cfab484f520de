"""The prompt catalog: the single source of prompt ids and their Japanese text.

`make sounds` renders every entry with Open JTalk (sounds/render.py); the call flow and the
dialplan refer to prompts only through `Prompt`. Ids are file paths under sounds/ja/.
"""

from __future__ import annotations

import enum


class Prompt(enum.StrEnum):
    UNIT_MENU = "tpw/unit_menu"
    ASK_TARGET = "tpw/ask_target"
    PASSWORD_INTRO = "tpw/password_intro"  # follows the target number read back
    ASK_PASSWORD = "tpw/ask_password"
    ASK_CONFIRM = "tpw/ask_confirm"
    DONE = "tpw/done"  # follows the target number read back
    INVALID = "tpw/invalid"
    START_AGAIN = "tpw/start_again"
    WITHHELD = "tpw/withheld"
    NOT_SUBSCRIBED = "tpw/not_subscribed"
    LIMITED = "tpw/limited"
    SORRY = "tpw/sorry"  # store or internal error; also the dialplan's apology
    CALL_TOO_LONG = "tpw/call_too_long"


TEXT: dict[str, str] = {
    Prompt.UNIT_MENU: (
        "仮パスワードの設定を行います。仮パスワードを設定する単位を選択します。"
        "回線単位に設定する場合は1、電話番号単位に設定する場合は2、"
        "管理者/ユーザ単位に設定する場合は3を入力してください。"
    ),
    Prompt.ASK_TARGET: (
        "仮パスワードを設定する電話番号を市外局番から入力し、最後に#を押してください。"
    ),
    Prompt.PASSWORD_INTRO: "番の仮パスワードの設定を行います。",
    Prompt.ASK_PASSWORD: "登録したい仮パスワードを入力してください。",
    Prompt.ASK_CONFIRM: "確認のためにもう一度仮パスワードを入力してください。",
    Prompt.DONE: "番の仮パスワードの設定が完了しました。ご利用ありがとうございました。",
    Prompt.INVALID: "入力された番号が正しくありません。もう一度押してください。",
    Prompt.START_AGAIN: "一度電話をお切りになり、最初からおかけ直しください。",
    Prompt.WITHHELD: (
        "お客様の電話番号が通知されていないため、ご利用いただけません。"
        "電話番号を通知しておかけ直しください。"
    ),
    Prompt.NOT_SUBSCRIBED: (
        "おかけになった電話番号からはご利用いただけません。"
        "本サービスをご契約の回線からおかけください。"
    ),
    Prompt.LIMITED: "ただいまご利用いただけません。しばらくたってからおかけ直しください。",
    Prompt.SORRY: (
        "申し訳ございません。ただいま設定を受け付けることができません。"
        "しばらくたってからおかけ直しください。"
    ),
    Prompt.CALL_TOO_LONG: (
        "一定時間内に操作が完了しなかったため、電話をお切りします。最初からおかけ直しください。"
    ),
}

# Digits for SAY DIGITS in Japanese (digits/0 … digits/9 of language ja), as read on the phone.
DIGIT_TEXT: dict[str, str] = {
    "digits/0": "ゼロ",
    "digits/1": "いち",
    "digits/2": "に",
    "digits/3": "さん",
    "digits/4": "よん",
    "digits/5": "ご",
    "digits/6": "ろく",
    "digits/7": "なな",
    "digits/8": "はち",
    "digits/9": "きゅう",
}

# How symbols are spoken; the catalog keeps the spec's wording, the voice needs words.
READINGS: dict[str, str] = {"#": "シャープ", "/": "・"}


def all_entries() -> dict[str, str]:
    """Every file to render: prompt id (path under sounds/ja/) -> text to speak."""
    entries = {str(k): v for k, v in TEXT.items()}
    entries.update(DIGIT_TEXT)
    return entries


def speech_text(text: str) -> str:
    for symbol, reading in READINGS.items():
        text = text.replace(symbol, reading)
    return text
