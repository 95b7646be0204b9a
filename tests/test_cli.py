"""CLI smoke: every registered command answers --help; version, doctor, media, synth work."""

import argparse
import json

import pytest

from dubclr import __version__
from dubclr.cli import build_parser, main


def command_paths(parser: argparse.ArgumentParser, prefix=()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield prefix + (name,)
                yield from command_paths(child, prefix + (name,))


ALL_COMMANDS = sorted(set(command_paths(build_parser())))


def test_our_commands_are_registered():
    for needed in [("doctor",), ("media",), ("media", "probe"), ("synth",), ("synth", "corpus")]:
        assert needed in ALL_COMMANDS


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=" ".join)
def test_every_command_has_help(path, capsys):
    with pytest.raises(SystemExit) as exited:
        main([*path, "--help"])
    assert exited.value.code == 0
    assert "usage: dubclr " + " ".join(path) in capsys.readouterr().out


def test_version(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"dubclr {__version__}"


def test_doctor_reports_what_dubclr_needs(capsys):
    assert main(["doctor", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True
    assert report["torch"]["version"] and "cpu" in report["torch"]["devices"]
    codecs = {c["codec"]: c for c in report["media"]["codecs"]}
    assert codecs["libx264"]["encode"] and codecs["h264"]["decode"] and codecs["flac"]["decode"]
    for movie_codec in ("ac3", "eac3", "dts", "truehd"):  # what films arrive in
        assert codecs[movie_codec]["decode"] is True and "encode" not in codecs[movie_codec]
    assert all(report["tts"]["corpus_voices"].values())
    names = {entry["name"]: entry for entry in report["optional"]}
    assert {"demucs", "openai-whisper", "transformers", "scenedetect"} <= set(names)
    for entry in names.values():
        assert entry["present"] or entry["install"].startswith("pip install")
    assert main(["doctor"]) == 0
    assert "optional backends" in capsys.readouterr().out


def test_media_probe_prints_tracks(media, capsys):
    path = media.title("movie.mkv", seconds=1.0, tracks=(("eng", 48000, 1, "flac"),
                                                          ("jpn", 44100, 2, "flac")))
    media.audio("movie.es.wav", seconds=1.0)
    assert main(["media", "probe", str(path)]) == 0
    out = capsys.readouterr().out
    assert "160x48 25 fps, 25 frames" in out and "ja" in out and "movie.es.wav" in out
    assert main(["media", "probe", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert [t["language"] for t in info["audio"]] == ["en", "ja", "es"]


def test_errors_are_one_line_with_exit_code_2(media, capsys):
    assert main(["media", "probe", str(media.folder / "missing.mkv")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("dubclr: error:") and "no such file" in err and "\n" not in err
    garbage = media.garbage("bad.mp4")
    assert main(["media", "probe", str(garbage)]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_synth_corpus_command(tmp_path, capsys):
    out = tmp_path / "corpus"
    args = ["synth", "corpus", str(out), "--titles", "1", "--seed", "3", "--languages", "fr,ko",
            "--shots", "2,2", "--shot-seconds", "3,3", "--size", "64x36", "--jobs", "1"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert str(out / "labels.json") in printed and "built 1 titles" in printed
    labels = json.loads((out / "labels.json").read_text(encoding="utf-8"))
    assert labels["languages"] == ["fr", "ko"] and labels["titles"][0]["original_language"] == "fr"
    assert main(args) == 2  # exists: needs --force
    assert "--force" in capsys.readouterr().err
    assert main(["synth", "corpus", str(tmp_path / "x"), "--size", "big"]) == 2


def test_an_os_error_is_one_line_not_a_traceback(tmp_path, capsys):
    from dubclr.cli import main

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    # the corpus folder's parent is a file: the OS refuses to create it
    rc = main(["synth", "corpus", str(blocker / "corpus"), "--titles", "1"])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("dubclr: error:") and "Traceback" not in err
    assert str(blocker) in err


def test_media_probe_of_a_folder_is_a_titles_by_languages_table(media, capsys):
    media.title("b.mkv", seconds=1.0, tracks=(("eng", 48000, 1, "flac"), ("spa", 48000, 1, "flac")))
    media.title("a.mp4", seconds=2.0, tracks=(("jpn", 48000, 1, "aac"),))
    media.audio("a.fr.wav", seconds=2.0)
    media.garbage("c.mkv")
    assert main(["media", "probe", str(media.folder)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["title", "video", "s", "en", "s", "es", "s", "fr", "s", "ja", "s"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:4]}
    assert rows["a.mp4"][0] == "2.00" and rows["a.mp4"][1:3] == ["-", "-"]
    assert rows["a.mp4"][3].startswith("2.0") and rows["a.mp4"][4] == "2.00*"
    assert rows["b.mkv"][:3] == ["1.00", "1.00*", "1.00"] and rows["b.mkv"][3:] == ["-", "-"]
    assert any(line.startswith("2 titles") and "en, es, fr, ja" in line for line in lines)
    assert any(line.startswith("unreadable:") and "c.mkv" in line for line in lines)
    assert main(["media", "probe", str(media.folder), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [t["path"].rsplit("/", 1)[-1] for t in report["titles"]] == ["a.mp4", "b.mkv"]
    assert [f["path"].rsplit("/", 1)[-1] for f in report["failures"]] == ["c.mkv"]


def test_a_reader_that_goes_away_ends_a_command_quietly(tmp_path):
    """`dubclr models | head -1`: the rest of the output has nowhere to go; that is no
    error (no traceback, no 'Broken pipe', exit 0)."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "dubclr", "models"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    proc.stdout.close()  # the reader leaves before the first line is written
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 0, err
    assert "Traceback" not in err and "Broken pipe" not in err and "Exception" not in err, err
