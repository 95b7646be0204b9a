"""``dubclr bench toy``: the paper's downstream protocol, shrunk to the synthetic corpus.

Every task is a probe on frozen per-shot features, evaluated on held-out titles (k folds
over titles, so no title is in both the probe's training and test data):

| task | analogue | input | target |
|---|---|---|---|
| sound class | ESC-50 | audio (original track) | the shot's background sound class |
| scene class | LVU scene | video | the shot's scene class |
| speaker count | LibriCount | audio (original track) | distinct speakers in the shot |
| language ID | VoxLingua107 | audio (every track of shots with speech) | the track's language |
| audiovisual | VGGSound | video + audio (concatenated) | the sound class |

plus cross-language retrieval (``retrieval.py``). Audio tasks use the HEAR MLP probe,
video and audiovisual ones the SGD linear probe, as in the paper.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from dubclr.evaluate.encoder import load_encoder
from dubclr.evaluate.probe_data import ProbeInputError, build_dataset
from dubclr.evaluate.probes import ProbeConfig, run_probe
from dubclr.evaluate.retrieval import cross_language_retrieval
from dubclr.evaluate.shots import ClipInputs, Shot, ShotEmbeddings, embed_shots, read_corpus


@dataclass(frozen=True)
class ToyTask:
    name: str
    group: str  # the paper's task type column
    modality: str  # A | V | AV
    analogue: str
    probe: str  # mlp | sgd


TASKS = (
    ToyTask("sound", "Snd/Scn", "A", "ESC-50", "mlp"),
    ToyTask("scene", "Snd/Scn", "V", "LVU scene", "sgd"),
    ToyTask("audiovisual", "Snd/Scn", "AV", "VGGSound", "sgd"),
    ToyTask("speakers", "NonSem", "A", "LibriCount", "mlp"),
    ToyTask("language", "Lang", "A", "VoxLingua107", "mlp"),
)


def title_folds(shots: list[Shot], max_folds: int = 4) -> tuple[dict[str, int], bool]:
    """Fold of each title (round robin over sorted ids); False if too few titles to hold out."""
    titles = sorted({s.title for s in shots})
    if len(titles) >= 3:
        k = min(max_folds, len(titles))
        return {t: i % k for i, t in enumerate(titles)}, True
    return {}, False


def task_rows(task: ToyTask, shots: list[Shot], emb: ShotEmbeddings,
              folds: dict[str, int]) -> tuple[list[dict], dict[str, np.ndarray]]:
    """Label rows (``file`` = sample key, ``label``, ``fold``) and the features they name."""
    rows, feats = [], {}

    def fold(s: Shot) -> int:
        return folds[s.title] if folds else s.index % 3  # shot folds if titles are too few

    for s in shots:
        orig = f"{s.key}#{s.original_language}"
        if task.name == "scene" and s.key in emb.video:
            rows.append({"file": s.key, "label": s.scene, "fold": fold(s)})
            feats[s.key] = emb.video[s.key]
        elif task.name in ("sound", "speakers") and orig in emb.audio:
            label = s.sound if task.name == "sound" else str(s.n_speakers)
            rows.append({"file": orig, "label": label, "fold": fold(s)})
            feats[orig] = emb.audio[orig]
        elif task.name == "audiovisual" and s.key in emb.video and orig in emb.audio:
            rows.append({"file": s.key, "label": s.sound, "fold": fold(s)})
            feats[s.key] = np.concatenate([emb.video[s.key], emb.audio[orig]])
        elif task.name == "language" and s.n_speakers > 0:
            for lang in s.languages:
                key = f"{s.key}#{lang}"
                if key in emb.audio:
                    rows.append({"file": key, "label": lang, "fold": fold(s)})
                    feats[key] = emb.audio[key]
    return rows, feats


def evaluate_checkpoint(checkpoint: str | Path, corpus_dir: str | Path, probe_cfg: ProbeConfig,
                        device: str = "cpu", shots: list[Shot] | None = None,
                        inputs: ClipInputs | None = None) -> dict:
    """All toy tasks and retrieval for one checkpoint (`inputs`: clips decoded for an
    earlier checkpoint, reused where the preprocessing is the same)."""
    if shots is None:
        _, shots = read_corpus(corpus_dir)
    encoder = load_encoder(checkpoint, device=device)
    emb = embed_shots(encoder, shots, desc=f"embed {Path(checkpoint).name}", inputs=inputs)
    folds, held_out = title_folds(shots)
    results: dict = {"held_out_titles": held_out, "tasks": {}}
    for task in TASKS:
        rows, feats = task_rows(task, shots, emb, folds)
        results["tasks"][task.name] = run_task(task, rows, feats, probe_cfg)
    results["retrieval"] = cross_language_retrieval(shots, emb)
    return results


def run_task(task: ToyTask, rows: list[dict], feats: dict[str, np.ndarray],
             probe_cfg: ProbeConfig) -> dict | None:
    """The task's probe on its rows; None without rows (the model lacks the tower the task
    needs), ``{"error": ...}`` when the rows cannot make a probe dataset."""
    if not rows:
        return None
    try:
        data = build_dataset(feats, rows, task="multiclass")
    except ProbeInputError as exc:
        return {"error": str(exc)}
    small = [s.name for s in data.splits if len(s.train) < 2]
    if small:  # too few titles: the probe's BatchNorm needs two training samples
        return {"error": f"split(s) {', '.join(small)} have fewer than 2 training samples"}
    res = run_probe(data, replace(probe_cfg, kind=task.probe), desc=task.name)
    res["chance"] = float(np.max(np.bincount(data.y)) / len(data.y))  # majority class
    return res


def variant_name(checkpoint: str | Path) -> str:
    """A readable column name: the run folder for ``RUN/checkpoints/step_N``, else the name."""
    p = Path(checkpoint)
    if p.name.startswith("step_") and p.parent.name == "checkpoints":
        return p.parent.parent.name
    return p.stem if p.is_file() else p.name


def run_toy_bench(checkpoints: list[str | Path], corpus_dir: str | Path,
                  probe_cfg: ProbeConfig | None = None, names: list[str] | None = None,
                  device: str = "cpu") -> dict:
    probe_cfg = probe_cfg or ProbeConfig()
    names = names or [variant_name(c) for c in checkpoints]
    if len(set(names)) != len(names):  # two runs with the same folder name
        names = [f"{n}#{i}" for i, n in enumerate(names)]
    labels, shots = read_corpus(corpus_dir)
    variants, inputs = {}, ClipInputs()  # every clip decoded once for all checkpoints
    for name, ckpt in zip(names, checkpoints):
        variants[name] = {"checkpoint": str(ckpt),
                          **evaluate_checkpoint(ckpt, corpus_dir, probe_cfg, device, shots,
                                                inputs)}
    return {"corpus": str(Path(corpus_dir).resolve()), "titles": len(labels["titles"]),
            "shots": len(shots), "tasks": [t.__dict__ for t in TASKS], "variants": variants,
            "seeds": list(probe_cfg.seeds)}
