"""`dubclr counterfactual run|report`: synthetic dubs for single-track videos (paper section 6)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dubclr.cli.overrides import add_override_arguments

_RUN_EPILOG = """\
backends (set with --config, or key=value / --set key=value):
  separate.backend     demucs | stems | vad-gate
  transcribe.backend   whisper | pocketsphinx | subtitles
  translate.backend    seamless | nllb | subtitles | none (speech-to-speech)
  synthesize.backend   seamless | espeak
  voice.backend        praat | lvc | none
  master.eq            envelope | matchering | none
presets: --config paper (Demucs, Whisper, SeamlessM4T; needs the models cached),
         --config offline (stems, subtitle sidecars, espeak-ng, Praat; no downloads), or
         --config any (any English video, no downloads: VAD gate, PocketSphinx, target
         subtitles where present, else re-voiced and labelled "re-voiced, not translated").

cluster array job (SLURM), all tasks sharing one OUT:
  #SBATCH --array=0-31
  dubclr counterfactual run VIDEOS --out OUT --config paper \\
      --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT
"""


def register(sub: argparse._SubParsersAction) -> None:
    cf = sub.add_parser("counterfactual", help="synthesize dubbed tracks for single-track videos",
                        description="The paper's section 6 pipeline: separate -> transcribe -> "
                        "translate -> synthesize -> align -> voice -> master -> remix -> mux.")
    cfs = cf.add_subparsers(dest="counterfactual_command", metavar="SUBCOMMAND")
    cf.set_defaults(func=lambda args: cf.print_help() or 2)

    run = cfs.add_parser(
        "run", help="dub a single-track video, or every one in a folder",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=_RUN_EPILOG,
        description="Writes OUT/titles/<title>.mkv (video copied, original audio + one "
        "language-tagged track per language), caches every stage under OUT/cache (a re-run "
        "skips finished work and resumes after a crash) and appends to OUT/manifest.jsonl.")
    run.add_argument("input_dir", type=Path, metavar="INPUT",
                     help="a video file, or a folder of videos (searched recursively)")
    run.add_argument("--out", type=Path, required=True, help="output folder")
    run.add_argument("--languages", help="target languages, comma separated (e.g. es,fr,ja)")
    run.add_argument("--config", default=None,
                     help="YAML file or preset name: paper (default), offline or any")
    add_override_arguments(run, "separate.backend=vad-gate (or --set separate.backend=vad-gate)")
    run.add_argument("--jobs", type=int, default=1, help="titles processed in parallel (processes)")
    run.add_argument("--shard", default="0/1", metavar="I/N",
                     help="process every N-th title starting at I (0-based), for array jobs")
    run.add_argument("--force", metavar="STAGE", default=None,
                     help="redo this stage and every later one, even if cached")
    run.set_defaults(func=cmd_run)

    rep = cfs.add_parser("report", help="HTML page with stills, spectrograms and quality figures",
                         description="Reads OUT/manifest.jsonl and writes OUT/report/index.html "
                         "with a video still and mel spectrograms (middle 10 s) of the original "
                         "and each synthetic track per title, and a table of duration error, "
                         "segment placement error, loudness difference and speech/background "
                         "ratio.")
    rep.add_argument("out_dir", type=Path, help="the --out folder of 'counterfactual run'")
    rep.set_defaults(func=cmd_report)


def cmd_run(args: argparse.Namespace) -> int:
    import os

    # models come from the local caches only (preflight checked them): no hub look-ups, in
    # this process or the workers it spawns (demucs and transformers would otherwise retry)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from dubclr.counterfactual import load_counterfactual_config, run_pipeline
    from dubclr.counterfactual.pipeline import parse_shard

    overrides = list(args.overrides)
    if args.languages:
        overrides.append(f"languages=[{args.languages}]")
    cfg = load_counterfactual_config(args.config or "paper", overrides)
    summary = run_pipeline(args.input_dir, args.out, cfg, jobs=max(1, args.jobs),
                           shard=parse_shard(args.shard), force=args.force)
    done = [o for o in summary.outputs if not o.get("cached")]
    cached = len(summary.outputs) - len(done)
    print(f"dubbed {len(done)} title(s), {cached} already up to date, {len(summary.skipped)} "
          f"skipped, {len(summary.failed)} failed")
    for video, why in summary.skipped:
        print(f"  skipped {video}: {why}")
    for video, why in summary.failed:
        print(f"  FAILED {video}: {why}", file=sys.stderr)
    print(f"titles:   {args.out / 'titles'}")
    print(f"manifest: {args.out / 'manifest.jsonl'}")
    print(f"report:   dubclr counterfactual report {args.out}")
    return 1 if summary.failed else 0


def cmd_report(args: argparse.Namespace) -> int:
    from dubclr.counterfactual.report import render_report

    index = render_report(args.out_dir)
    print(f"report: {index}")
    return 0
