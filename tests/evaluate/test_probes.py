import json

import numpy as np
import pytest
from scipy.stats import binom

from dubclr.evaluate.probe_data import (
    ProbeInputError,
    build_dataset,
    load_features,
    load_labels,
    make_splits,
)
from dubclr.evaluate.probes import ProbeConfig, mean_average_precision, run_probe

FAST = dict(hidden_dim=64, max_epochs=100, patience=10, learning_rates=(3.2e-3, 1e-3),
            hidden_layers=(1,), seeds=(0, 1), batch_size=64)


def _clusters(n_per_class, k, dim, seed, sep=5.0):
    """Gaussian blobs: class c is centred at sep * e_c."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(k), n_per_class)
    x = rng.normal(size=(len(y), dim)).astype(np.float32)
    x[np.arange(len(y)), y] += sep
    return x, y


def _rows(y, splits):
    return [{"file": f"f{i}.wav", "label": f"c{c}", "split": s} for i, (c, s) in enumerate(zip(y, splits))]


def _balanced_splits(y, seed):
    """Split each class 60/20/20 so every split is exactly balanced."""
    rng = np.random.default_rng(seed)
    out = np.empty(len(y), dtype=object)
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        n = len(idx)
        out[idx[: int(0.6 * n)]] = "train"
        out[idx[int(0.6 * n): int(0.8 * n)]] = "valid"
        out[idx[int(0.8 * n):]] = "test"
    return out


@pytest.mark.parametrize("kind", ["mlp", "linear"])
def test_separable_features_reach_high_accuracy(kind):
    x, y = _clusters(100, 4, 16, seed=0)
    rows = _rows(y, _balanced_splits(y, 0))
    data = build_dataset(x, rows)
    res = run_probe(data, ProbeConfig(kind=kind, **FAST))
    assert res["metric"] == "top1"
    assert res["mean"] > 0.95, res
    assert len(res["runs"]) == 2


def test_shuffled_labels_stay_at_chance():
    k, n_per = 4, 500
    x, y = _clusters(n_per, k, 16, seed=1)
    splits = _balanced_splits(y, 1)
    rng = np.random.default_rng(2)
    y_shuffled = y.copy()
    for s in ("train", "valid", "test"):  # permute within each split: splits stay balanced
        idx = np.flatnonzero(splits == s)
        y_shuffled[idx] = y[rng.permutation(idx)]
    data = build_dataset(x, _rows(y_shuffled, splits))
    res = run_probe(data, ProbeConfig(kind="mlp", **FAST))
    n_test = int((splits == "test").sum())
    # test labels are balanced and independent of the features, so correct predictions are
    # Binomial(n_test, 1/k) whatever the probe predicts; one-sided bound at p = 1e-6
    upper = binom.ppf(1 - 1e-6, n_test, 1 / k) / n_test
    for run in res["runs"]:
        assert run["test"] < upper, (run, upper)
    assert res["mean"] > 1 / k - 0.12  # and not systematically below chance either


def test_multilabel_map_and_regression_paths():
    rng = np.random.default_rng(3)
    n, dim, c = 400, 12, 3
    x = rng.normal(size=(n, dim)).astype(np.float32)
    y = (x[:, :c] > 0.3)
    splits = np.array(["train"] * 240 + ["valid"] * 80 + ["test"] * 80)
    rows = [{"file": f"f{i}", "labels": [f"t{j}" for j in range(c) if y[i, j]], "split": s}
            for i, s in enumerate(splits)]
    ml = run_probe(build_dataset(x, rows), ProbeConfig(kind="linear", **FAST))
    assert ml["metric"] == "mAP" and ml["task"] == "multilabel"
    # chance mAP is the positive rate (~0.38); a linear rule in the features gives far more
    assert ml["mean"] > 0.85, ml

    target = 3.0 * x[:, 0] - 2.0 * x[:, 1] + 10.0
    rows = [{"file": f"f{i}", "target": float(t), "split": s} for i, (t, s) in enumerate(zip(target, splits))]
    reg = run_probe(build_dataset(x, rows), ProbeConfig(kind="linear", **FAST))
    assert reg["metric"] == "mse"
    assert reg["mean"] < 0.1 * target.var(), reg  # far better than predicting the mean


def test_kfold_splits_and_sgd_probe():
    x, y = _clusters(30, 3, 8, seed=4)
    rows = [{"file": f"f{i}", "label": int(c), "fold": i % 5} for i, c in enumerate(y)]
    splits = make_splits(rows)
    assert len(splits) == 5
    for s in splits:
        assert not set(s.train) & set(s.test) and not set(s.valid) & set(s.test)
        assert len(s.train) + len(s.valid) + len(s.test) == len(rows)
    res = run_probe(build_dataset(x, rows), ProbeConfig(kind="sgd", sgd_epochs=30, seeds=(0,)))
    assert len(res["runs"]) == 5 and res["mean"] > 0.9 and res["std"] >= 0


def test_map_is_one_for_perfect_ranking_and_matches_hand_computation():
    y = np.array([[1], [0], [1], [0]])
    assert mean_average_precision(np.array([[0.9], [0.1], [0.8], [0.2]]), y) == 1.0
    # ranking: pos, neg, neg, pos -> AP = (1/1 + 2/4) / 2
    assert mean_average_precision(np.array([[0.9], [0.5], [0.1], [0.4]]), y) == pytest.approx(0.75)


def test_label_files_csv_json_and_errors(tmp_path):
    csv_path = tmp_path / "labels.csv"
    csv_path.write_text("file,labels,split\na.wav,x;y,train\nb.wav,y,test\n")
    rows = load_labels(csv_path)
    assert rows[0]["labels"] == ["x", "y"]
    json_path = tmp_path / "labels.json"
    json_path.write_text(json.dumps({"items": [{"file": "a", "label": 1, "split": "train"}]}))
    assert load_labels(json_path)[0]["label"] == 1
    bad = tmp_path / "bad.csv"
    bad.write_text("file,label\na,1\n")
    with pytest.raises(ProbeInputError, match="split"):
        load_labels(bad)
    npz = tmp_path / "f.npz"
    np.savez(npz, features=np.ones((2, 3)), files=np.array(["a.wav", "b.wav"]))
    feats = load_features(npz)
    with pytest.raises(ProbeInputError, match="no features"):
        build_dataset(feats, [{"file": "zzz.wav", "label": 0, "split": "train"},
                              {"file": "a.wav", "label": 1, "split": "test"}])


def test_feature_table_averaging_tracks_and_av(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from dubclr.evaluate.embed_store import SCHEMA
    from dubclr.evaluate.probe_data import load_feature_table

    def row(file, modality, track, idx, default, window, emb):
        return dict(file=file, modality=modality, track=track, track_index=idx,
                    default_track=default, window=window, start=0.0, end=3.0, crop=0,
                    embedding=np.asarray(emb, dtype=np.float32))

    rows = [row("m.mkv", "video", "", -1, True, 0, [1, 1]), row("m.mkv", "video", "", -1, True, 1, [3, 3]),
            row("m.mkv", "audio", "en", 0, True, 0, [0, 2]), row("m.mkv", "audio", "es", 1, False, 0, [5, 5])]
    path = tmp_path / "embeddings.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), path)
    with pytest.raises(ProbeInputError, match="--modality"):
        load_feature_table(path)
    video = load_feature_table(path, "video")
    np.testing.assert_allclose(video["m.mkv"], [2, 2])  # windows averaged
    audio = load_feature_table(tmp_path, "audio")  # a folder finds its table
    np.testing.assert_allclose(audio["m.mkv"], [0, 2])  # bare name = default track
    np.testing.assert_allclose(audio["m.mkv#es"], [5, 5])
    av = load_feature_table(path, "av")
    np.testing.assert_allclose(av["m.mkv#es"], [2, 2, 5, 5])


def test_probe_cli(tmp_path, capsys):
    from dubclr.cli import main

    x, y = _clusters(40, 2, 6, seed=5)
    files = np.array([f"s{i}.wav" for i in range(len(y))])
    np.savez(tmp_path / "feats.npz", features=x, files=files)
    lines = ["file,label,fold"] + [f"{f},c{c},{i % 3}" for i, (f, c) in enumerate(zip(files, y))]
    (tmp_path / "labels.csv").write_text("\n".join(lines) + "\n")
    rc = main(["probe", str(tmp_path / "feats.npz"), str(tmp_path / "labels.csv"), "--probe", "linear",
               "--seeds", "0", "--max-epochs", "100", "--batch-size", "16", "--learning-rates", "3.2e-3",
               "--out", str(tmp_path / "res")])
    assert rc == 0
    result = json.loads((tmp_path / "res" / "probe.json").read_text())
    assert result["task"] == "multiclass" and len(result["runs"]) == 3 and result["mean"] > 0.9
    assert "| split | seed |" in (tmp_path / "res" / "probe.md").read_text()
    assert "probe.json" in capsys.readouterr().out


@pytest.mark.parametrize("column, names", [("split", "fold{:02d}"), ("fold", "fold{:02d}"),
                                           ("fold", "{}")])
def test_hear_fold_names_are_folds(column, names):
    x, y = _clusters(30, 2, 6, seed=6)
    rows = [{"file": f"f{i}.wav", "label": f"c{c}", column: names.format(i % 5)}
            for i, c in enumerate(y)]
    data = build_dataset(x, rows)
    assert len(data.splits) == 5
    if names.startswith("fold"):
        assert [s.name for s in data.splits] == [f"fold{i:02d}" for i in range(5)]
    for s in data.splits:
        assert s.valid_source == "labels" and len(s.valid) and len(s.test) and len(s.train)
        assert not set(s.valid) & set(s.test)


def test_a_probe_without_validation_rows_says_so(tmp_path, capsys):
    from dubclr.cli import main

    x, y = _clusters(20, 2, 6, seed=7)
    files = np.array([f"s{i}.wav" for i in range(len(y))])
    np.savez(tmp_path / "feats.npz", features=x, files=files)
    lines = ["file,label,split"] + [f"{f},c{c},{'test' if i % 4 == 0 else 'train'}"
                                    for i, (f, c) in enumerate(zip(files, y))]
    (tmp_path / "labels.csv").write_text("\n".join(lines) + "\n")
    common = [str(tmp_path / "feats.npz"), str(tmp_path / "labels.csv"), "--seeds", "0",
              "--max-epochs", "20", "--sgd-epochs", "20", "--batch-size", "16",
              "--learning-rates", "3.2e-3"]
    assert main(["probe", *common, "--probe", "linear", "--out", str(tmp_path / "lin")]) == 0
    out = capsys.readouterr().out
    assert "note: no validation split in the labels: 3 of 30 train samples were held out" in out
    result = json.loads((tmp_path / "lin" / "probe.json").read_text())
    assert result["runs"][0]["valid_source"] == "train"
    assert "Validation: no validation split" in (tmp_path / "lin" / "probe.md").read_text()
    # the SGD probe selects nothing: it trains on every train row and reports no 'valid'
    assert main(["probe", *common, "--probe", "sgd", "--out", str(tmp_path / "sgd")]) == 0
    assert "none needed" in capsys.readouterr().out
    (run,) = json.loads((tmp_path / "sgd" / "probe.json").read_text())["runs"]
    assert run["valid"] is None
    assert "| test | 0 | 0 | 0.2 | - |" in (tmp_path / "sgd" / "probe.md").read_text()
