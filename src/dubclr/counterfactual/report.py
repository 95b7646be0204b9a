"""``dubclr counterfactual report OUT``: an HTML page to inspect the dubs (like the paper's
Fig. C.2): per title a video still, mel spectrograms of the original and each synthetic track
(middle 10 s), and a table of quality figures from the manifest."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
from scipy.signal import stft

from dubclr.counterfactual.manifest import MANIFEST_NAME, latest_outputs
from dubclr.data.transforms import mel_filterbank
from dubclr.errors import DubclrError
from dubclr.progress import progress

_RATE = 16000
_SHOW_S = 10.0
_COLUMNS = (("translation", "translation"), ("original_speech_s", "original speech (s)"),
            ("dub_speech_s", "dubbed speech (s)"), ("speech_coverage", "speech covered"),
            ("lines_trimmed", "lines trimmed"), ("leakage_db", "original speech left (dB)"),
            ("duration_error_s", "duration error (s)"), ("placement_error_s", "placement error (s)"),
            ("loudness_diff_lu", "loudness diff. (LU)"), ("sbr_db", "speech/background (dB)"),
            ("sbr_original_db", "original speech/background (dB)"),
            ("flagged_segments", "flagged segments"), ("segments", "segments"))


def log_mel(samples: np.ndarray, rate: int = _RATE, n_fft: int = 512, hop: int = 160,
            n_mels: int = 64) -> np.ndarray:
    _, _, spec = stft(samples, fs=rate, nperseg=n_fft, noverlap=n_fft - hop)
    bank = mel_filterbank(n_fft // 2 + 1, n_mels, rate).numpy().T  # (n_mels, n_freqs)
    power = bank @ (np.abs(spec) ** 2)
    return 10 * np.log10(power + 1e-10)


def _figure_spectrograms(path: Path, tracks: list[tuple[str, np.ndarray]], offset: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(tracks), 1, figsize=(8, 1.6 * len(tracks)), squeeze=False)
    for ax, (label, samples) in zip(axes[:, 0], tracks):
        mel = log_mel(samples)
        ax.imshow(mel, origin="lower", aspect="auto", cmap="magma", vmin=mel.max() - 80,
                  extent=(offset, offset + len(samples) / _RATE, 0, mel.shape[0]))
        ax.set_ylabel(label, rotation=0, ha="right", va="center")
        ax.set_yticks([])
    axes[-1, 0].set_xlabel("time (s)")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def _still(path: Path, video: Path, at: float) -> bool:
    from PIL import Image  # matplotlib depends on pillow

    from dubclr.media import MediaError, read_video

    try:
        frame = read_video(video, at, 0.5, fps=None, num_frames=1)[0]
    except MediaError:
        return False
    Image.fromarray(frame).save(path)
    return True


def _cell(value) -> str:
    if value is None:
        return "&ndash;"
    return f"{value:.3f}" if isinstance(value, float) else html.escape(str(value))


def render_report(out_dir: str | Path) -> Path:
    """Write ``OUT/report/index.html`` (+ PNGs) for the titles in ``OUT/manifest.jsonl``."""
    from dubclr.media import probe, read_audio

    out_dir = Path(out_dir)
    outputs = {t: r for t, r in latest_outputs(out_dir / MANIFEST_NAME).items() if "tracks" in r}
    if not outputs:
        raise DubclrError(f"{out_dir}: no finished titles in {MANIFEST_NAME}; run "
                          f"'dubclr counterfactual run INPUT --out {out_dir}' first")
    report = out_dir / "report"
    report.mkdir(exist_ok=True)
    rows, sections = [], []
    for title, rec in progress(sorted(outputs.items()), desc="report", unit="title"):
        video = Path(rec["output"])
        if not video.is_file():
            continue
        info = probe(video)
        start = max(0.0, info.duration / 2 - _SHOW_S / 2)
        length = min(_SHOW_S, info.duration - start)
        tracks = [(f"{t.language}{' (orig.)' if t.default else ''}",
                   read_audio(video, start, length, track=t.index, sample_rate=_RATE))
                  for t in info.audio]
        _figure_spectrograms(report / f"{title}_mel.png", tracks, start)
        still = _still(report / f"{title}_still.png", video, info.duration / 2)
        for lang, fig in sorted(rec["tracks"].items()):
            rows.append(f"<tr><td>{html.escape(title)}</td><td>{lang}</td>"
                        + "".join(f"<td>{_cell(fig.get(k))}</td>" for k, _ in _COLUMNS) + "</tr>")
        img = f'<img src="{title}_still.png" height="160">' if still else "(no video)"
        sections.append(f"<h2>{html.escape(title)}</h2><p>{html.escape(str(video))}</p>"
                        f'<div class="clip">{img}<img src="{title}_mel.png"></div>')
    head = "".join(f"<th>{label}</th>" for _, label in _COLUMNS)
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>dubclr counterfactual "
            f"dubs</title><style>body{{font-family:sans-serif}} td,th{{padding:2px 8px;"
            f"text-align:right}} .clip img{{margin:4px;vertical-align:top}}</style></head><body>"
            f"<h1>Synthetic counterfactual dubs</h1><table><tr><th>title</th><th>lang</th>{head}"
            f"</tr>{''.join(rows)}</table>{''.join(sections)}</body></html>")
    index = report / "index.html"
    index.write_text(page, encoding="utf-8")
    return index
