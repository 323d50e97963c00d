"""Remake the Mandarin digit voices of the 记录查验 audio captcha (run by hand; needs espeak-ng):

    python -m webapp.views.captcha_voices.make

Each digit the audio captcha uses is spoken by espeak-ng's Mandarin voice (``cmn``), trimmed of silence and
written as the ``captcha`` package reads its voices: ``<digit>/default.wav``, 8 kHz, 8-bit unsigned, mono.
1 and 7 are left out: 一 (yī) and 七 (qī) are hard to tell apart under the noise.
"""

from __future__ import annotations

import array
import subprocess
import tempfile
import wave
from pathlib import Path

HERE = Path(__file__).resolve().parent
DIGITS = "02345689"
WORDS = "零一二三四五六七八九"
RATE = 8000


def _speak(word: str) -> tuple[array.array, int]:
    """espeak-ng's 16-bit samples of a word and their rate."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "w.wav"
        subprocess.run(["espeak-ng", "-v", "cmn", "-s", "110", "-a", "180", "-w", str(out), word], check=True)
        with wave.open(str(out)) as w:
            samples = array.array("h", w.readframes(w.getnframes()))
            return samples, w.getframerate()


def _eight_bit(samples: array.array, rate: int) -> bytes:
    """Trimmed, resampled to 8 kHz (linear), as unsigned 8-bit."""
    loud = [i for i, s in enumerate(samples) if abs(s) > 600]
    samples = samples[max(0, loud[0] - rate // 100) : loud[-1] + rate // 50] if loud else samples
    step = rate / RATE
    out = bytearray()
    for n in range(int(len(samples) / step)):
        x = n * step
        i = int(x)
        j = min(i + 1, len(samples) - 1)
        s = samples[i] + (samples[j] - samples[i]) * (x - i)
        out.append(max(0, min(255, int(s / 256) + 128)))
    return bytes(out)


def main() -> None:
    """Write every digit's voice."""
    for d in DIGITS:
        samples, rate = _speak(WORDS[int(d)])
        (HERE / d).mkdir(exist_ok=True)
        with wave.open(str(HERE / d / "default.wav"), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(1)
            w.setframerate(RATE)
            w.writeframes(_eight_bit(samples, rate))


if __name__ == "__main__":
    main()
