"""The data commands end to end: index, catalog stats, data check."""

import json

import pytest

from dubclr.cli import main


def test_index_stats_and_check(tiny_corpus, tmp_path, capsys):
    catalog = tmp_path / "catalog.sqlite"
    assert main(["index", str(tiny_corpus), "--catalog", str(catalog), "--jobs", "2"]) == 0
    out = capsys.readouterr().out
    assert "3 indexed" in out and str(catalog) in out

    plot = tmp_path / "stats.png"
    assert main(["catalog", "stats", str(catalog), "--json", "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    stats = json.loads(out[: out.rindex("}") + 1])
    assert stats["titles"] == 3 and stats["shots_kept"] == 11
    assert stats["titles_by_tracks"] == {"4": 3}
    assert stats["dub_coverage"]["titles_with_dubs"] == 3
    assert stats["track_languages"] == {"en": 3, "es": 3, "fr": 3, "ja": 3}
    assert plot.stat().st_size > 1000

    config = tmp_path / "train.yaml"
    config.write_text(f"seed: 1\ndata:\n  catalog: {catalog}\n  sampler: {{batch_size: 4, "
                      "same_title: 2}\n  dub_policy: cycle:es,fr\n  num_workers: 0\n")
    assert main(["data", "check", str(config), "--batches", "2", "--json"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [b["step"] for b in lines] == [0, 1]
    # 160x90 clips leave the worker as squares at the training scale's maximum (320)
    assert lines[0]["shapes"]["video_p"] == [4, 3, 16, 320, 320]
    assert lines[0]["shapes"]["audio_s"] == [4, 1, 144000]
    assert [{m["lang_s"] for m in b["items"]} for b in lines] == [{"es"}, {"fr"}]
    assert main(["data", "check", str(config), "--batches", "1"]) == 0
    text = capsys.readouterr().out
    assert "k=2 per title" in text and "a_s es" in text
    # --set takes dotted training-config keys, as `dubclr train` does
    assert main(["data", "check", str(config), "--batches", "1", "--json",
                 "--set", "data.sampler.batch_size=2", "--set", "data.dub_policy=mono"]) == 0
    (batch,) = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert batch["shapes"]["video_p"][0] == 2
    assert all(m["lang_s"] == m["lang_p"] == "en" for m in batch["items"])


def test_check_validates_the_whole_training_config(tmp_path, capsys):
    config = tmp_path / "train.yaml"
    config.write_text("data:\n  num_workers: 0\noptim:\n  lr: -1\n")
    assert main(["data", "check", str(config)]) == 2
    assert "optim.lr" in capsys.readouterr().err
    config.write_text("data:\n  num_workers: 0\n")
    assert main(["data", "check", str(config), "--set", "optim.lrr=1"]) == 2
    assert "optim.lrr" in capsys.readouterr().err
    assert main(["data", "check", str(config), "--set", "data.audio.channels=2"]) == 2
    assert "model.audio.channels" in capsys.readouterr().err


def test_bad_inputs_are_one_line_errors(tmp_path, capsys):
    assert main(["catalog", "stats", str(tmp_path / "none.sqlite")]) == 2
    assert "dubclr index" in capsys.readouterr().err
    config = tmp_path / "bad.yaml"
    config.write_text("data:\n  dub_policy: sometimes\n")
    assert main(["data", "check", str(config)]) == 2
    assert "data.dub_policy" in capsys.readouterr().err
    assert main(["index", str(tmp_path / "nowhere"), "--catalog", str(tmp_path / "c.sqlite")]) == 2


@pytest.mark.parametrize("argv", [["index", "--help"], ["catalog", "stats", "--help"],
                                  ["data", "check", "--help"]])
def test_help(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0 and "usage" in capsys.readouterr().out
