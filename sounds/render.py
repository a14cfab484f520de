"""Render the prompt catalog to telephone-rate WAV files with Open JTalk (inside the rootfs).

Output goes to `$IVR_CACHE_DIR/sounds/<catalog digest>/ja/<id>.wav`, with `<id>.ulaw` and
`<id>.alaw` beside it: Asterisk plays, per file name, the format that costs least for the
caller's codec, so μ-law and A-law callers get their frames without transcoding. The digest
covers every text, the voice settings and the formats, so the same catalog renders once per
machine and a changed catalog (or format list) renders anew. The stack bind-mounts that
folder as Asterisk's `sounds/ja`.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sounds.catalog import all_entries, speech_text

DICT = "/var/lib/mecab/dic/open-jtalk/naist-jdic"
VOICE = "/usr/share/hts-voice/nitech-jp-atr503-m001/nitech_jp_atr503_m001.htsvoice"
# Open JTalk settings: speed slightly above 1.0 keeps long guidance bearable on the phone.
JTALK_ARGS = ["-r", "1.05"]
STAMP = ".complete"
# Beside each .wav (signed linear): the G.711 encodings callers use (sox type, encoding).
CODEC_FILES = {"ulaw": ("ul", "mu-law"), "alaw": ("al", "a-law")}
# Open JTalk leaves ~0.4 s of silence at both ends: trim it, so digits read back briskly.
TRIM = [
    "silence",
    "1",
    "0.02",
    "0.5%",
    "reverse",
    "silence",
    "1",
    "0.02",
    "0.5%",
    "reverse",
    "pad",
    "0",
    "0.08",
]


def catalog_digest() -> str:
    blob = json.dumps(
        [sorted(all_entries().items()), JTALK_ARGS, TRIM, VOICE, sorted(CODEC_FILES.items())],
        ensure_ascii=False,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def sounds_dir(cache_dir: Path) -> Path:
    """Where the rendered `ja` folder of the current catalog lives."""
    return cache_dir / "sounds" / catalog_digest() / "ja"


def is_rendered(cache_dir: Path) -> bool:
    return (sounds_dir(cache_dir) / STAMP).exists()


def _render_one(root: Path, work: Path, prompt_id: str, text: str, out_dir: Path) -> None:
    name = prompt_id.replace("/", "__")
    (work / f"{name}.txt").write_text(speech_text(text) + "\n", encoding="utf-8")
    inside = Path("/") / work.relative_to(root)
    subprocess.run(
        [
            "chroot",
            str(root),
            "open_jtalk",
            "-x",
            DICT,
            "-m",
            VOICE,
            *JTALK_ARGS,
            "-ow",
            f"{inside}/{name}.raw.wav",
            f"{inside}/{name}.txt",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    subprocess.run(
        [
            "chroot",
            str(root),
            "sox",
            f"{inside}/{name}.raw.wav",
            "-r",
            "8000",
            "-c",
            "1",
            "-b",
            "16",
            "-e",
            "signed-integer",
            f"{inside}/{name}.wav",
            *TRIM,
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    for ext, (sox_type, encoding) in CODEC_FILES.items():
        subprocess.run(
            ["chroot", str(root), "sox", f"{inside}/{name}.wav", "-e", encoding, "-t", sox_type,
             f"{inside}/{name}.{ext}"],
            check=True,
            capture_output=True,
            timeout=120,
        )  # fmt: skip
    target = out_dir / f"{prompt_id}.wav"
    target.parent.mkdir(parents=True, exist_ok=True)
    for ext in ("wav", *CODEC_FILES):
        shutil.move(work / f"{name}.{ext}", target.with_suffix(f".{ext}"))


def render(cache_dir: Path, *, force: bool = False) -> Path:
    out_dir = sounds_dir(cache_dir)
    if is_rendered(cache_dir) and not force:
        return out_dir
    root = cache_dir / "rootfs"
    if not (root / "usr/bin/open_jtalk").exists():
        raise SystemExit(f"no Open JTalk in {root}: run `make setup` (scripts/build-rootfs.sh)")
    staging = out_dir.with_name("ja.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    (root / "tmp").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root / "tmp", prefix="ivr-render-") as tmp:
        work = Path(tmp)
        with ThreadPoolExecutor(max_workers=2) as pool:
            jobs = [
                pool.submit(_render_one, root, work, pid, text, staging)
                for pid, text in all_entries().items()
            ]
            for job in jobs:
                job.result()
    (staging / STAMP).write_text(catalog_digest() + "\n")
    shutil.rmtree(out_dir, ignore_errors=True)
    staging.rename(out_dir)
    return out_dir
