"""`dubclr data check` on a catalog of real titles: missing files up front, --batches 0, one
override syntax."""

import json
import shutil

from dubclr.cli import main
from dubclr.data.catalog import Catalog


def _config(tmp_path, catalog):
    config = tmp_path / "train.yaml"
    config.write_text(
        f"seed: 1\ndata:\n  catalog: {catalog}\n  sampler: {{batch_size: 4, same_title: 2}}\n"
        "  dub_policy: random\n  num_workers: 0\n  video: {num_frames: 4}\n"
        "model:\n  video: {frames: 4}\n")
    return config


def _copied_catalog(real_catalog, tmp_path):
    """A copy of the real catalog over a copy of its titles."""
    catalog, _ = real_catalog
    folder = tmp_path / "titles"
    shutil.copytree(Catalog.open(catalog).roots()[0], folder)
    copy = tmp_path / "c.sqlite"
    assert main(["index", str(folder), "--catalog", str(copy)]) == 0
    return folder, copy


def test_check_lists_missing_files_up_front_in_one_message(real_catalog, tmp_path, capsys):
    folder, catalog = _copied_catalog(real_catalog, tmp_path)
    (folder / "camera_480p_2997.mkv").unlink()
    (folder / "short_audio_540p_25.mkv").unlink()
    capsys.readouterr()
    assert main(["data", "check", str(_config(tmp_path, catalog)), "--batches", "1"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # nothing was loaded
    (line, *listed) = captured.err.strip().splitlines()[:3]
    assert line.startswith("dubclr: error:") and "2 file(s) it names are gone" in line
    assert sorted(listed) == [f"  {folder / 'camera_480p_2997.mkv'}",
                              f"  {folder / 'short_audio_540p_25.mkv'}"]
    # `train` checks the same way before its loader starts (no DataLoader traceback)
    assert main(["train", str(_config(tmp_path, catalog)), f"run_dir={tmp_path / 'run'}"]) == 2
    err = capsys.readouterr().err
    assert "2 file(s) it names are gone" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()


def test_check_with_zero_batches_decodes_nothing(real_catalog, tmp_path, capsys):
    catalog, _ = real_catalog
    config = _config(tmp_path, catalog)
    assert main(["data", "check", str(config), "--batches", "0"]) == 0
    captured = capsys.readouterr()
    assert "batch 0" not in captured.out and "0 clips read" in captured.err
    assert main(["data", "check", str(config), "--batches", "1", "--json"]) == 0
    (batch,) = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert batch["shapes"]["video_p"][:3] == [4, 3, 4]


def test_overrides_are_key_value_or_set_on_every_command(real_catalog, tmp_path, capsys):
    catalog, _ = real_catalog
    config = _config(tmp_path, catalog)
    # positional after an option, and --set, together
    assert main(["data", "check", str(config), "--batches", "1", "--json",
                 "data.sampler.batch_size=2", "--set", "data.dub_policy=mono"]) == 0
    (batch,) = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert batch["shapes"]["video_p"][0] == 2
    assert all(m["lang_s"] == m["lang_p"] for m in batch["items"])
    # `train` takes --set too, and key=value after its options
    assert main(["train", str(config), "--check", "--set", "optim.lr=-1"]) == 2
    assert "optim.lr" in capsys.readouterr().err
    assert main(["train", str(config), "--check", "optim.lr=-1"]) == 2
    assert "optim.lr" in capsys.readouterr().err
    assert main(["data", "check", str(config), "--set", "nonsense"]) == 2
    assert "key.path=value" in capsys.readouterr().err


def test_stats_count_shots_left_out_for_missing_audio(real_catalog, capsys):
    catalog, _ = real_catalog
    assert main(["catalog", "stats", str(catalog), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["shots_without_original_audio"] == 1  # short_audio's second shot
    assert stats["shots_missing_language_audio"] == {"es": 1}  # camera's second shot
    assert stats["original_sources"] == {"default-track": 2, "original-flag": 1}
    assert stats["duplicate_titles"] == [] and len(stats["roots"]) == 1


def test_stats_on_a_file_that_is_not_a_catalog_never_advises_deleting_it(real_media, tmp_path,
                                                                         capsys):
    movie = real_media.copy_to(tmp_path, "portrait_540x960_2997") / "portrait_540x960_2997.mkv"
    assert main(["catalog", "stats", str(movie)]) == 2
    err = capsys.readouterr().err
    assert "not a dubclr catalog" in err and "delete" not in err.lower()
    assert "dubclr index" in err


def test_a_policy_language_no_track_has_is_an_error(real_catalog, tmp_path, capsys):
    """For `data check` and `train` alike, before anything is decoded. (The policy is parsed
    when the config is read: 639-2 codes become 639-1, a non-code is an error there.)"""
    catalog, _ = real_catalog
    config = _config(tmp_path, catalog)
    assert main(["data", "check", str(config), "--batches", "0",
                 "data.dub_policy=cycle:es,fr,ita,jp"]) == 2
    assert "'jp' in 'cycle:es,fr,ita,jp' is not a language code" in capsys.readouterr().err
    run = f"run_dir={tmp_path / 'run'}"
    for command in (["data", "check", str(config), "--batches", "1"], ["train", str(config), run],
                    ["train", str(config), run, "--check"]):
        assert main([*command, "data.dub_policy=cycle:es,fr,de"]) == 2
        captured = capsys.readouterr()
        assert captured.out == "", command  # nothing was decoded or trained
        assert "no selected title has a track in de" in captured.err
        assert "the titles have en, es, fr, it, und" in captured.err
    assert main(["data", "check", str(config), "--batches", "0",
                 "data.dub_policy=cycle:es,fr,ita"]) == 0
