"""`dubclr models` and `dubclr checkpoint convert|info`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dubclr.errors import ConfigError
from dubclr.progress import progress


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list the model presets with parameters and GFLOPs per clip",
                       description="Each tower preset with its input, output width, parameter "
                       "count and forward GFLOPs per clip (torch FlopCounter, 2 x multiply-adds).")
    p.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    p.add_argument("--preset", action="append", metavar="NAME",
                   help="only this preset (repeatable); default: all")
    p.set_defaults(func=cmd_models)

    ck = sub.add_parser("checkpoint", help="convert and inspect checkpoints")
    cks = ck.add_subparsers(dest="checkpoint_command", metavar="SUBCOMMAND")
    ck.set_defaults(func=lambda args: ck.print_help() or 2)

    conv = cks.add_parser(
        "convert", help="convert an authors' released checkpoint to dubclr's format",
        description="Read a released checkpoint (torch pickle with a 'model' state dict, "
        "backbone.net.video.* / backbone.net.audio.* keys) without running pickled code, check "
        "it against its config, and write OUT_DIR/model.safetensors + OUT_DIR/model.json.")
    conv.add_argument("authors_file", type=Path, help="the released checkpoint file")
    conv.add_argument("out_dir", type=Path, help="output directory (created atomically)")
    conv.add_argument("--authors-config", type=Path, help="the release's config.yaml")
    conv.add_argument("--video-config", type=Path,
                      help="resolved video tower JSON ({'MVIT', 'constructor_args'})")
    conv.add_argument("--audio-config", type=Path, help="resolved audio tower JSON")
    conv.add_argument("--trust-pickle", action="store_true",
                      help="allow full unpickling (can run code from the file; trusted files only)")
    conv.add_argument("--overwrite", action="store_true", help="replace OUT_DIR if it exists")
    conv.set_defaults(func=cmd_convert)

    info = cks.add_parser("info", help="architecture, parameter count, input sizes, provenance",
                          description="Describe a dubclr checkpoint directory (or training "
                          "checkpoint step), or an authors' file given its config.")
    info.add_argument("path", type=Path, help="checkpoint directory, model.json, or authors' file")
    info.add_argument("--authors-config", type=Path, help="config.yaml for an authors' file")
    info.add_argument("--video-config", type=Path)
    info.add_argument("--audio-config", type=Path)
    info.add_argument("--trust-pickle", action="store_true")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(func=cmd_info)


def cmd_models(args: argparse.Namespace) -> int:
    from dubclr.models.presets import PRESETS, get_preset, preset_row

    try:
        chosen = [get_preset(n) for n in args.preset] if args.preset else list(PRESETS)
    except KeyError as exc:
        raise ConfigError(str(exc.args[0])) from None
    rows = [preset_row(p) for p in progress(chosen, desc="counting FLOPs", unit="preset")]
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return 0
    header = f"{'preset':<22} {'input':<16} {'out':>5} {'params':>12} {'GFLOPs/clip':>12}  note"
    print(header)
    print("-" * len(header))
    for r in rows:
        shape = "x".join(str(v) for v in r["input"])
        print(f"{r['name']:<22} {shape:<16} {r['out_dim']:>5} {r['params']:>12,} "
              f"{r['gflops']:>12.2f}  {r['note']}")
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    from dubclr.models.checkpoint import convert_authors_checkpoint, save_model

    model = convert_authors_checkpoint(
        args.authors_file, authors_config=args.authors_config, video_config=args.video_config,
        audio_config=args.audio_config, trust_pickle=args.trust_pickle)
    provenance = dict(model.provenance)
    for key in ("authors_config", "video_config", "audio_config"):
        if getattr(args, key) is not None:
            provenance[key] = str(getattr(args, key))
    out = save_model(model, args.out_dir, provenance, overwrite=args.overwrite)
    towers = [t for t in ("video", "audio") if getattr(model, t) is not None]
    print(f"converted {args.authors_file} ({' + '.join(towers)} tower) -> {out}/model.safetensors, "
          f"{out}/model.json")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from dubclr.models.checkpoint import load_model

    model = load_model(args.path, authors_config=args.authors_config,
                       video_config=args.video_config, audio_config=args.audio_config,
                       trust_pickle=args.trust_pickle)
    info = describe(model)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"checkpoint: {args.path}")
    for name in ("video", "audio"):
        t = info["towers"].get(name)
        if t is None:
            print(f"  {name}: none")
            continue
        print(f"  {name}: {t['arch']} preset {t['preset']}, input {t['input']}, "
              f"out {t['out_dim']}, {t['params']:,} parameters")
        if t.get("overrides"):
            print(f"    overrides: {json.dumps(t['overrides'])}")
    print(f"  heads: {info['heads']}")
    print(f"  total parameters: {info['params']:,}")
    for key, value in info["provenance"].items():
        print(f"  provenance.{key}: {value}")
    sys.stdout.flush()
    return 0


def describe(model) -> dict:
    from dubclr.config import to_dict
    from dubclr.models.presets import count_parameters

    towers = {}
    for name in ("video", "audio"):
        tower = getattr(model, name)
        cfg = getattr(model.config, name)
        if tower is None:
            continue
        shape = ((3, cfg.frames, cfg.crop, cfg.crop) if name == "video"
                 else (cfg.channels, cfg.mel_bins, cfg.mel_frames))
        towers[name] = {"arch": cfg.arch, "preset": cfg.preset, "input": "x".join(map(str, shape)),
                        "out_dim": tower.out_dim, "params": count_parameters(tower),
                        "overrides": to_dict(getattr(cfg, "overrides", {}))}
    head = model.config.head
    return {"towers": towers, "params": count_parameters(model),
            "heads": "none" if head is None else f"MLP {head.hidden_dim} -> {head.out_dim}",
            "provenance": getattr(model, "provenance", {})}
