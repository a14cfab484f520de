"""The catalog is the single source of prompt ids, and `make sounds` rendered all of it."""

from __future__ import annotations

import wave

from ivr.config.settings import Settings
from sounds import catalog, render


def test_every_prompt_has_text_and_every_text_a_prompt():
    assert set(catalog.TEXT) == set(catalog.Prompt)
    assert all(text.strip() for text in catalog.TEXT.values())
    assert sorted(catalog.DIGIT_TEXT) == [f"digits/{d}" for d in range(10)]


def test_symbols_are_spoken_as_words():
    spoken = catalog.speech_text(catalog.TEXT[catalog.Prompt.ASK_TARGET])
    assert "#" not in spoken and "シャープ" in spoken
    assert "/" not in catalog.speech_text(catalog.TEXT[catalog.Prompt.UNIT_MENU])


def test_digest_changes_with_the_text(monkeypatch):
    before = render.catalog_digest()
    monkeypatch.setitem(catalog.TEXT, catalog.Prompt.INVALID, "違う文")
    assert render.catalog_digest() != before


def test_rendered_files_are_telephone_rate_speech():
    out = render.sounds_dir(Settings.from_env().cache_dir)
    assert render.is_rendered(Settings.from_env().cache_dir), "run `make sounds`"
    for prompt_id in catalog.all_entries():
        with wave.open(str(out / f"{prompt_id}.wav")) as w:
            assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
            seconds = w.getnframes() / 8000
        assert 0.1 < seconds < 30, (prompt_id, seconds)


def test_codec_files_beside_each_wav_hold_the_same_samples():
    """One byte per sample in the caller's G.711 law: Asterisk plays them untranscoded."""
    out = render.sounds_dir(Settings.from_env().cache_dir)
    for prompt_id in catalog.all_entries():
        with wave.open(str(out / f"{prompt_id}.wav")) as w:
            frames = w.getnframes()
        ulaw = (out / f"{prompt_id}.ulaw").read_bytes()
        alaw = (out / f"{prompt_id}.alaw").read_bytes()
        assert len(ulaw) == len(alaw) == frames, prompt_id
        assert ulaw != alaw
        assert len(set(ulaw)) > 20, prompt_id  # speech, not silence


def test_digest_changes_with_the_codec_files(monkeypatch):
    before = render.catalog_digest()
    monkeypatch.delitem(render.CODEC_FILES, "alaw")
    assert render.catalog_digest() != before
