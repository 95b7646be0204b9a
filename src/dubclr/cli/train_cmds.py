"""`dubclr train CONFIG [key=value ...] [--resume auto|PATH]`."""

from __future__ import annotations

import argparse
import signal
import sys

from dubclr.cli.overrides import add_override_arguments

EPILOG = """\
examples:
  dubclr train configs/toy/EN.yaml data.catalog=runs/demo/catalog.sqlite
  dubclr train configs/paper/B5.yaml init_from.path=runs/B3 --resume auto
  torchrun --standalone --nproc-per-node 8 -m dubclr train configs/paper/B3.yaml
  torchrun --nnodes 4 --nproc-per-node 8 --rdzv-backend c10d --rdzv-endpoint HOST0:29500 \\
      --rdzv-id b3 -m dubclr train configs/paper/B3.yaml      (on every node)

The run directory (run_dir=...) receives config.yaml (the resolved config), metrics.jsonl,
tensorboard/ (when installed) and checkpoints/step_XXXXXXXX/. SIGTERM or Ctrl-C writes a
checkpoint at the end of the current step (also when the pipe the output goes to has closed,
as with Ctrl-C on `dubclr train ... | tee log`); `--resume auto` continues from the newest
valid one, with the same config (a changed setting is an error listing the differences;
`--resume-with-changes` continues under the new one and keeps the old config beside it).
Multi-node runs need a filesystem shared by every node for run_dir.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train", help="pretrain a video<->audio model from a config",
        description="Pretrain with the paper's cross-modal objective. Launch under torchrun for "
                    "several processes (gloo on CPU, NCCL on GPUs).",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", help="YAML config, e.g. configs/paper/B3.yaml or configs/toy/EN.yaml")
    add_override_arguments(p, "optim.lr=1e-4 data.sampler.batch_size=16")
    p.add_argument("--resume", metavar="auto|PATH", default=None,
                   help="'auto': continue from the newest valid checkpoint of run_dir (start "
                        "fresh when there is none); PATH: from that checkpoint directory")
    p.add_argument("--resume-with-changes", action="store_true",
                   help="resume although the config differs from the checkpoint's (without "
                        "it that is an error listing the differences); the previous config is "
                        "kept as RUN/config.until_step_XXXXXXXX.yaml). Implies --resume auto "
                        "unless --resume PATH is given")
    p.add_argument("--check", action="store_true",
                   help="validate the config, build the model on the meta device and check the "
                        "data selection against the catalog (decoding nothing), then exit")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dubclr.config import load_config
    from dubclr.train.config import TrainConfig

    cfg = load_config(TrainConfig, args.config, args.overrides)
    if args.check:
        return _check(cfg)
    from dubclr.cli.streams import writes_survive_a_closed_pipe

    # Ctrl-C on `dubclr train ... | tee log` ends tee too: the run's writes to the closed
    # pipe must not cost the checkpoint it takes at the end of the step
    with writes_survive_a_closed_pipe():
        return _train(cfg, args)


def _train(cfg, args: argparse.Namespace) -> int:
    from dubclr.train.loop import Trainer

    if args.resume_with_changes and args.resume is None:
        args.resume = "auto"
    result = Trainer(cfg, resume=args.resume, resume_with_changes=args.resume_with_changes).fit()
    from dubclr.train.distributed import launch_env

    rank, world_size, _ = launch_env()
    if rank != 0:
        return 0
    rate = result.clips / result.seconds if result.seconds > 0 else 0.0
    if result.start_step == result.step:
        print(f"nothing to do: the run is at step {result.step} of {result.total_steps}")
    else:
        print(f"trained steps {result.start_step + 1}..{result.step} of {result.total_steps} in "
              f"{result.seconds:.1f} s ({rate:.1f} clips/s), {result.skipped_steps} skipped")
    print(f"run directory: {result.run_dir}")
    print(f"  config:      {result.run_dir / 'config.yaml'}")
    print(f"  metrics:     {result.metrics_path}")
    from dubclr.train.curves import plot_curves

    curves = plot_curves(result.metrics_path, result.run_dir / "curves.png")
    if curves is not None:
        print(f"  curves:      {curves}")
    if result.last_checkpoint is not None:
        print(f"  checkpoint:  {result.last_checkpoint}")
    if result.stopped_by:
        print(f"stopped by {result.stopped_by}; continue with: {resume_hint(args, world_size)}",
              file=sys.stderr)
        signum = getattr(signal, result.stopped_by, signal.SIGTERM)
        return 128 + int(signum)
    return 0


def resume_hint(args: argparse.Namespace, world_size: int) -> str:
    """The command that continues a stopped run (under torchrun: the same launch)."""
    command = " ".join(["dubclr train", args.config, *args.overrides, "--resume auto"])
    if world_size > 1:
        return (f"the same launch ({world_size} processes in all), e.g. "
                f"torchrun --nproc-per-node N -m {command}")
    return command


def _check(cfg) -> int:
    import torch

    from dubclr.models.av import build_model

    with torch.device("meta"):
        model = build_model(cfg.model)
    counts = {name: sum(p.numel() for p in part.parameters())
              for name, part in (("video", model.video), ("audio", model.audio),
                                 ("video_head", model.video_head), ("audio_head", model.audio_head))
              if part is not None}
    shots = _check_data(cfg.data)  # (decodes nothing)
    print(f"config ok: {cfg.name or 'unnamed'}; run_dir {cfg.run_dir}")
    print("parameters: " + ", ".join(f"{k} {v / 1e6:.2f}M" for k, v in counts.items()))
    if shots is None:
        print(f"data: {cfg.data.catalog} not found, not checked (build it with `dubclr index`)")
    else:
        titles = len({shot.title_id for shot in shots})
        print(f"data: {len(shots)} shots of {titles} titles selected from {cfg.data.catalog}"
              + (f", read from the shards in {cfg.data.shards}" if cfg.data.shards else ""))
    return 0


def _check_data(data_cfg) -> list | None:
    """The selection, checked as `train` checks it (every file there, the dub policy's
    languages in the selected titles, with ``data.shards`` every shot and track in the
    shards); None when there is no catalog yet."""
    from dubclr.data.loader import load_selection
    from dubclr.shards.loader import check_shards

    if not data_cfg.catalog.is_file():
        return None
    shots = load_selection(data_cfg)
    if data_cfg.shards is not None:
        check_shards(shots, data_cfg)
    return shots
