"""Inputs of a probe: frozen features, a label table, and the train/valid/test splits.

Features come from ``dubclr embed`` (a Parquet table with one row per window and crop;
rows are averaged per sample) or from ``.npy`` (rows in label-table order) / ``.npz``
(``features`` plus ``files``). Labels are CSV or JSON rows with ``file``, one of
``label`` (multiclass), ``labels`` (multilabel, ``;``-separated in CSV) or ``target``
(regression), and ``split`` (train/valid/test) or ``fold`` (an integer, or HEAR's ``fold00``
names, which may also stand in the ``split`` column). An optional ``track``
column picks an audio track by language; without it the file's default track is used.
"""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dubclr.errors import DubclrError

TASKS = ("multiclass", "multilabel", "regression")


class ProbeInputError(DubclrError, ValueError):
    """A feature or label file cannot be used for probing; says which and why."""


@dataclass
class Split:
    name: str
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    # where `valid` came from: "labels" (the table's valid rows or the next fold), "train"
    # (no valid rows: held out of train for early stopping), "none" (not needed, not made)
    valid_source: str = "labels"

    def describe_validation(self) -> str | None:
        """A sentence for reports when validation is not a split of the labels, else None."""
        if self.valid_source == "train":
            return (f"no validation split in the labels: {len(self.valid)} of "
                    f"{len(self.valid) + len(self.train)} train samples were held out for "
                    "early stopping and model selection; 'valid' is measured on them")
        if self.valid_source == "none":
            return "no validation split in the labels and none needed (no selection): no 'valid'"
        return None


@dataclass
class ProbeDataset:
    """Aligned features ``x`` (N, D) and targets ``y`` with the splits to evaluate on."""

    keys: list[str]
    x: np.ndarray
    y: np.ndarray  # int64 (N,) | float32 (N, C) multi-hot | float32 (N,) regression
    task: str
    splits: list[Split]
    classes: list[str] = field(default_factory=list)


def sample_key(file: str, track: str | None = None) -> str:
    """The key a sample is known by: the file, plus ``#lang`` for a chosen audio track."""
    return f"{file}#{track}" if track else file


# ---------------------------------------------------------------- labels


def load_labels(path: str | Path) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        raise ProbeInputError(f"label file not found: {path}")
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8-sig"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ProbeInputError(f"{path}: not valid JSON ({exc})") from None
        rows = data.get("items", data.get("samples")) if isinstance(data, dict) else data
        if not isinstance(rows, list):
            raise ProbeInputError(f"{path}: expected a list of rows or {{'items': [...]}}")
        rows = [dict(r) for r in rows]
    elif path.suffix.lower() in (".csv", ".tsv"):
        delim = "\t" if path.suffix.lower() == ".tsv" else ","
        with path.open(newline="", encoding="utf-8-sig") as fh:  # -sig: Excel's BOM
            rows = [dict(r) for r in csv.DictReader(fh, delimiter=delim)]
        for r in rows:
            if isinstance(r.get("labels"), str):
                r["labels"] = [s for s in r["labels"].split(";") if s]
    else:
        raise ProbeInputError(f"{path}: labels must be .csv, .tsv or .json")
    if not rows:
        raise ProbeInputError(f"{path}: no rows")
    for i, r in enumerate(rows):
        if "file" not in r:
            raise ProbeInputError(f"{path}: row {i} has no 'file' column")
        if "split" not in r and "fold" not in r:
            raise ProbeInputError(f"{path}: row {i} needs a 'split' (train/valid/test) or 'fold'")
    return rows


def infer_task(rows: list[dict]) -> str:
    first = rows[0]
    if "labels" in first:
        return "multilabel"
    if "target" in first:
        return "regression"
    if "label" in first:
        return "multiclass"
    raise ProbeInputError("labels need a 'label', 'labels' or 'target' column")


def encode_targets(rows: list[dict], task: str) -> tuple[np.ndarray, list[str]]:
    if task == "multiclass":
        names = sorted({str(r["label"]) for r in rows})
        index = {n: i for i, n in enumerate(names)}
        return np.array([index[str(r["label"])] for r in rows], dtype=np.int64), names
    if task == "multilabel":
        names = sorted({str(lab) for r in rows for lab in r["labels"]})
        index = {n: i for i, n in enumerate(names)}
        y = np.zeros((len(rows), len(names)), dtype=np.float32)
        for i, r in enumerate(rows):
            for lab in r["labels"]:
                y[i, index[str(lab)]] = 1.0
        return y, names
    if task == "regression":
        try:
            return np.array([float(r["target"]) for r in rows], dtype=np.float32), []
        except (KeyError, ValueError) as exc:
            raise ProbeInputError(f"regression needs a numeric 'target' in every row ({exc})") from None
    raise ProbeInputError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")


_FOLD_NAME = re.compile(r"^\s*fold[_-]?(\d+)\s*$", re.IGNORECASE)


def _fold_id(value) -> int | None:
    """``3``, ``"3"`` or HEAR's ``"fold03"`` -> 3; None for anything else."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    match = _FOLD_NAME.match(text)
    return int(match.group(1)) if match else None


def make_splits(rows: list[dict], seed: int = 0, valid_fraction: float | None = 0.1) -> list[Split]:
    """Fixed train/valid/test, or k folds (fold i tests, fold i+1 validates, the rest train).

    Folds come from a ``fold`` column, or from a ``split`` column whose every value is a
    HEAR fold name (``fold00``). Without valid rows, ``valid_fraction`` of train is held out
    for early stopping (``valid_source="train"``); ``valid_fraction=None`` holds out nothing.
    """
    column = "fold" if "fold" in rows[0] else "split"
    ids_per_row = [_fold_id(r.get(column)) for r in rows]
    if column == "fold" or all(i is not None for i in ids_per_row):
        bad = next((r[column] for r, i in zip(rows, ids_per_row) if i is None), None)
        if bad is not None:
            raise ProbeInputError(f"'fold' must be an integer or a HEAR fold name (fold00) in "
                                  f"every row, got {bad!r}")
        return _fold_splits(np.array(ids_per_row), rows, column)
    names = np.array([str(r["split"]).lower() for r in rows])
    names[names == "val"] = "valid"
    names[names == "validation"] = "valid"
    unknown = set(names.tolist()) - {"train", "valid", "test"}
    if unknown:
        raise ProbeInputError(f"unknown split names {sorted(unknown)}; use train, valid, test")
    train, valid, test = (np.flatnonzero(names == s) for s in ("train", "valid", "test"))
    if len(train) == 0 or len(test) == 0:
        raise ProbeInputError("the label table needs rows in both 'train' and 'test'")
    if len(valid) > 0:
        return [Split("test", train, valid, test)]
    if valid_fraction is None:
        return [Split("test", train, valid, test, valid_source="none")]
    if len(train) < 2:
        raise ProbeInputError("no 'valid' rows and a single 'train' row: nothing can be held "
                              "out for early stopping; add valid rows or more train rows")
    perm = np.random.default_rng(seed).permutation(train)
    n_valid = min(len(train) - 1, max(1, int(round(valid_fraction * len(train)))))
    valid, train = np.sort(perm[:n_valid]), np.sort(perm[n_valid:])
    return [Split("test", train, valid, test, valid_source="train")]


def _fold_splits(folds: np.ndarray, rows: list[dict], column: str) -> list[Split]:
    ids = sorted(set(folds.tolist()))
    if len(ids) < 3:
        raise ProbeInputError(f"k-fold probing needs at least 3 folds, got {ids}")
    names = {f: str(r[column]).strip() for f, r in zip(folds.tolist(), rows)}
    out = []
    for i, f in enumerate(ids):
        v = ids[(i + 1) % len(ids)]
        name = names[f] if _FOLD_NAME.match(names[f]) else f"fold{f}"
        out.append(Split(name, np.flatnonzero((folds != f) & (folds != v)),
                         np.flatnonzero(folds == v), np.flatnonzero(folds == f)))
    return out


# ---------------------------------------------------------------- features


def load_feature_table(path: str | Path, modality: str | None = None) -> dict[str, np.ndarray]:
    """Per-sample features from an embedding table: windows and crops averaged.

    ``modality`` is ``video``, ``audio`` or ``av`` (the two concatenated); it may be left
    out when the table holds one modality only.
    """
    import pyarrow.parquet as pq

    path = Path(path)
    if path.is_dir():
        path = path / "embeddings.parquet"
    if not path.is_file():
        raise ProbeInputError(f"feature table not found: {path}")
    try:
        table = pq.read_table(path).to_pydict()
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise ProbeInputError(f"{path}: not a readable Parquet table ({exc}); give the output of "
                              "`dubclr embed`, an .npy or an .npz") from None
    if "modality" not in table or "embedding" not in table:
        raise ProbeInputError(f"{path}: not an embedding table (no 'modality'/'embedding' "
                              "columns); give the output of `dubclr embed`")
    present = sorted(set(table["modality"]))
    if modality is None:
        if len(present) != 1:
            raise ProbeInputError(f"{path} holds {present}; pass --modality video, audio or av")
        modality = present[0]
    by_mod: dict[str, dict[str, list]] = {m: defaultdict(list) for m in present}
    for f, m, trk, default, emb in zip(table["file"], table["modality"], table["track"],
                                       table["default_track"], table["embedding"]):
        by_mod[m][sample_key(f, trk if m == "audio" else None)].append(emb)
        if m == "audio" and default:
            by_mod[m][f].append(emb)  # the default track also answers to the bare file name
    means = {m: {k: np.mean(np.asarray(v, dtype=np.float32), axis=0) for k, v in d.items()}
             for m, d in by_mod.items()}
    if modality in ("video", "audio"):
        if modality not in means:
            raise ProbeInputError(f"{path} has no {modality} embeddings (it has {present})")
        return means[modality]
    if modality == "av":
        if not {"video", "audio"} <= set(means):
            raise ProbeInputError(f"{path}: 'av' needs video and audio embeddings (has {present})")
        return {k: np.concatenate([means["video"][k.split("#")[0]], a])
                for k, a in means["audio"].items() if k.split("#")[0] in means["video"]}
    raise ProbeInputError(f"unknown modality {modality!r}; use video, audio or av")


def build_dataset(features: dict[str, np.ndarray] | np.ndarray, rows: list[dict],
                  task: str | None = None, seed: int = 0,
                  valid_fraction: float | None = 0.1) -> ProbeDataset:
    """Align features with label rows (by key, or by position for a bare array).
    ``valid_fraction``: see :func:`make_splits`."""
    task = task or infer_task(rows)
    keys = [sample_key(str(r["file"]), r.get("track") or None) for r in rows]
    if isinstance(features, np.ndarray):
        if len(features) != len(rows):
            raise ProbeInputError(f"{len(features)} feature rows but {len(rows)} label rows")
        x = features.astype(np.float32)
    else:
        missing = [k for k in keys if k not in features]
        if missing:
            raise ProbeInputError(f"{len(missing)} labelled samples have no features, e.g. "
                                  f"{missing[:3]}; embed them first or fix the 'file' column")
        x = np.stack([features[k] for k in keys]).astype(np.float32)
    y, classes = encode_targets(rows, task)
    return ProbeDataset(keys, x, y, task, make_splits(rows, seed, valid_fraction), classes)


def load_features(path: str | Path, modality: str | None = None) -> dict[str, np.ndarray] | np.ndarray:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".npy", ".npz") and not path.is_file():
        raise ProbeInputError(f"feature file not found: {path}")
    if suffix == ".npy":
        return _two_d(_np_load(path), path)
    if suffix == ".npz":
        with _np_load(path) as z:
            if "features" not in z:
                raise ProbeInputError(f"{path}: an .npz needs a 'features' array (and 'files')")
            features = _two_d(z["features"], path)
            if "files" not in z:
                return features
            return {str(f): v for f, v in zip(z["files"], features)}
    return load_feature_table(path, modality)


def _np_load(path: Path):
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ProbeInputError(f"{path}: not a readable NumPy file ({exc})") from None


def _two_d(features: np.ndarray, path: Path) -> np.ndarray:
    if features.ndim != 2:
        raise ProbeInputError(f"{path}: features must be 2-D (samples x dims), got shape "
                              f"{features.shape}")
    return features
