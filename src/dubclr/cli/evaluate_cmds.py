"""``dubclr embed``, ``dubclr probe``, ``dubclr bench toy``, ``dubclr bench study``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dubclr.errors import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("embed", help="embed every media file in a folder (3 s windows)",
                       description="Cut each file into 3 s windows (the authors' tail rule), run "
                       "the checkpoint's towers and write OUT/embeddings.parquet + metadata.json. "
                       "Re-running skips files already embedded. Multi-GPU: torchrun "
                       "--nproc-per-node N -m dubclr embed ...")
    p.add_argument("--checkpoint", required=True, help="dubclr checkpoint dir, training step "
                   "dir, or an authors' .pyth file")
    p.add_argument("--input", required=True, help="folder (searched recursively) or one file")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--modality", default="video,audio", help="video, audio or video,audio")
    p.add_argument("--crops", type=int, choices=(1, 5), default=1,
                   help="video crops per window: 1 (centre) or 5 (corners + centre, as released)")
    p.add_argument("--tracks", choices=("default", "all"), default="default",
                   help="audio tracks of multi-track titles: the default one or all of them")
    p.add_argument("--batch-size", type=int, default=16, help="windows per forward pass")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--precision", choices=("auto", "fp16", "fp32"), default="auto",
                   help="auto: fp16 autocast on CUDA, fp32 on CPU")
    g = p.add_argument_group("authors' checkpoints (.pyth)")
    g.add_argument("--authors-config", help="the release's config.yaml")
    g.add_argument("--video-config", help="resolved video tower JSON (instead of the YAML)")
    g.add_argument("--audio-config", help="resolved audio tower JSON (instead of the YAML)")
    g.add_argument("--trust-pickle", action="store_true",
                   help="allow a full unpickle of a file you trust (weights_only fails on it)")
    p.set_defaults(func=_embed)

    p = sub.add_parser("probe", help="train linear/MLP probes on frozen features",
                       description="HEAR-style probes on FEATURES (embed's Parquet table, .npy or "
                       ".npz) with LABELS (CSV/JSON rows: file, label|labels|target, split|fold).")
    p.add_argument("features")
    p.add_argument("labels")
    p.add_argument("--task", choices=("auto", "multiclass", "multilabel", "regression"),
                   default="auto", help="auto: label -> multiclass, labels -> multilabel, "
                   "target -> regression")
    p.add_argument("--probe", choices=("mlp", "linear", "sgd"), default="mlp",
                   help="mlp/linear: HEAR recipe (Adam, lr grid, early stopping); sgd: the video "
                   "linear probe (lr 0.2, cosine, 200 epochs)")
    p.add_argument("--modality", choices=("video", "audio", "av"), default=None,
                   help="which embeddings of a table holding several")
    _probe_args(p)
    p.add_argument("--out", default="probe_results", help="folder for probe.json and probe.md")
    p.set_defaults(func=_probe)

    bench_parser = sub.add_parser("bench", help="benchmarks")
    bench_parser.set_defaults(func=lambda args: bench_parser.print_help() or 2)
    bench = bench_parser.add_subparsers(dest="bench", metavar="BENCH")
    p = bench.add_parser("toy", help="the toy benchmark on the synthetic corpus",
                         description="Sound, scene, speaker-count, language-ID and audiovisual "
                         "probes on held-out synthetic titles plus cross-language retrieval, "
                         "one column per checkpoint (a table laid out like the paper's B.3).")
    p.add_argument("--checkpoints", nargs="+", required=True)
    p.add_argument("--names", nargs="+", default=None, help="column names (default: run folders)")
    p.add_argument("--corpus", default="data/toy_corpus", help="synthetic corpus folder")
    p.add_argument("--out", default="reports/toy_bench", help="output folder")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    _probe_args(p)
    p.set_defaults(func=_bench_toy)

    p = bench.add_parser(
        "study", help="the controlled study: EN vs EFJ vs SEP, seeds, intervals, paired tests",
        description="The paper's controlled study (supplement B.3) in the synthetic study world "
        "(docs/study.md): build a pretraining and a held-out corpus, train every variant with "
        "every seed for the same number of steps, evaluate on held-out titles (sound, scene, "
        "audiovisual, speaker count, language ID, keyword, video-to-audio retrieval with "
        "original and dubbed audio) and write a Table-B.3-style table (mean and 95 %% "
        "t-interval over seeds, paired t-test of EFJ vs EN), a plot and JSON. Re-running "
        "continues where it stopped.")
    p.add_argument("--out", type=Path, default=Path("runs/study"), help="output folder")
    p.add_argument("--variants", default="EN,EFJ,SEP",
                   help="comma-separated variants, each a CONFIGS/<name>.yaml (default EN,EFJ,SEP)")
    p.add_argument("--seeds", default="0,1,2", help="training seeds (default 0,1,2)")
    p.add_argument("--steps", type=int, default=400,
                   help="optimizer steps per run, the same for every variant (default 400)")
    p.add_argument("--pretrain-titles", type=int, default=24, help="pretraining titles (24)")
    p.add_argument("--heldout-titles", type=int, default=16, help="held-out titles (16)")
    p.add_argument("--title-seconds", type=float, default=40.0,
                   help="length of a synthetic title, about 10 shots of 3-5 s (default 40)")
    p.add_argument("--world-seed", type=int, default=0, help="seed of the synthetic world (0)")
    p.add_argument("--configs", type=Path, default=Path("configs/study"),
                   help="folder of the variants' configs (default configs/study)")
    p.add_argument("--compare", default="EFJ,EN", help="paired test of A against B (EFJ,EN)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="dotted config override for every run, e.g. --set data.num_workers=1")
    p.add_argument("--data", choices=("shards", "originals"), default="shards",
                   help="what the runs read: shot shards built once into OUT/shards (default) "
                   "or the original titles")
    p.add_argument("--jobs", type=int, default=2,
                   help="processes for the corpus, index and shards (2)")
    p.add_argument("--parallel", type=int, default=2,
                   help="training runs at once, each its own process (2: one per core)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads of each training run and of evaluation (1)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.set_defaults(func=_bench_study)


def _probe_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seeds", default="0,1,2", help="comma-separated probe seeds")
    p.add_argument("--max-epochs", type=int, default=500, help="Adam probes: epoch cap")
    p.add_argument("--patience", type=int, default=20, help="Adam probes: early-stopping patience")
    p.add_argument("--sgd-epochs", type=int, default=200, help="SGD probe epochs")
    p.add_argument("--hidden-dim", type=int, default=1024)
    p.add_argument("--hidden-layers", default="1,2", help="MLP depths to search (HEAR: 1,2)")
    p.add_argument("--learning-rates", default="3.2e-3,1e-3,3.2e-4,1e-4",
                   help="Adam learning-rate grid (HEAR's four by default)")
    p.add_argument("--batch-size", type=int, default=1024, dest="probe_batch_size")


def _probe_config(args, kind: str = "mlp"):
    from dubclr.evaluate.probes import ProbeConfig

    return ProbeConfig(kind=kind, seeds=_numbers(args.seeds, int, "--seeds"),
                       max_epochs=args.max_epochs, patience=args.patience,
                       sgd_epochs=args.sgd_epochs, hidden_dim=args.hidden_dim,
                       hidden_layers=_numbers(args.hidden_layers, int, "--hidden-layers"),
                       learning_rates=_numbers(args.learning_rates, float, "--learning-rates"),
                       batch_size=args.probe_batch_size)


def _numbers(text: str, kind, flag: str) -> tuple:
    try:
        values = tuple(kind(s) for s in str(text).split(",") if s.strip())
    except ValueError:
        raise ConfigError(f"{flag} must be comma-separated numbers, got {text!r}") from None
    if not values:
        raise ConfigError(f"{flag} needs at least one value")
    return values


def _embed(args) -> int:
    from dubclr.evaluate.embed import EmbedOptions, run_embed

    mods = tuple(m.strip() for m in args.modality.split(",") if m.strip())
    if not mods or set(mods) - {"video", "audio"}:
        raise ConfigError(f"--modality must be video, audio or video,audio; got {args.modality!r}")
    options = EmbedOptions(modalities=mods, crops="five" if args.crops == 5 else "center",
                           tracks=args.tracks, batch_size=args.batch_size,
                           precision=args.precision)
    authors = {k: getattr(args, k) for k in ("authors_config", "video_config", "audio_config")
               if getattr(args, k)}
    if args.trust_pickle:
        authors["trust_pickle"] = True
    s = run_embed(args.checkpoint, args.input, args.out, options, device=args.device, **authors)
    if s.table:  # rank 0 prints the summary
        print(f"embedded {s.files_embedded} files ({s.windows['video']} video windows, "
              f"{s.windows['audio']} audio windows), skipped {s.files_skipped} already done, "
              f"{len(s.errors)} failed, in {s.seconds:.1f} s")
        for f, err in s.errors.items():
            print(f"  failed: {f}: {err}")
        print(f"embeddings: {s.table}\nmetadata:   {s.metadata}")
    return 1 if s.errors and not s.files_embedded and not s.files_skipped else 0


def _probe(args) -> int:
    from dubclr.evaluate.probe_data import build_dataset, load_features, load_labels
    from dubclr.evaluate.probes import run_probe
    from dubclr.evaluate.report import fmt, probe_markdown

    rows = load_labels(args.labels)
    feats = load_features(args.features, args.modality)
    # the SGD probe selects nothing and stops on its schedule: it needs no validation rows
    data = build_dataset(feats, rows, None if args.task == "auto" else args.task,
                         valid_fraction=None if args.probe == "sgd" else 0.1)
    result = run_probe(data, _probe_config(args, args.probe))
    result.update(features=str(args.features), labels=str(args.labels), classes=data.classes)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "probe.json").write_text(json.dumps(result, indent=2))
    (out / "probe.md").write_text(probe_markdown(result, Path(args.labels).stem))
    print(f"{result['task']} probe ({args.probe}), {len(result['runs'])} runs: "
          f"{result['metric']} = {fmt(result['mean'], result['std'])}")
    if result["validation"]:
        print(f"note: {result['validation']}")
    print(f"results: {out / 'probe.json'}\ntable:   {out / 'probe.md'}")
    return 0


def _bench_toy(args) -> int:
    from dubclr.evaluate.report import bench_markdown, write_bench_report
    from dubclr.evaluate.toy_bench import run_toy_bench

    if args.names and len(args.names) != len(args.checkpoints):
        raise ConfigError("--names needs one name per checkpoint")
    result = run_toy_bench(args.checkpoints, args.corpus, _probe_config(args), args.names,
                           device=args.device)
    paths = write_bench_report(result, args.out)
    print(bench_markdown(result))
    for kind, path in paths.items():
        print(f"{kind + ':':10s}{path}")
    return 0


def _bench_study(args) -> int:
    from dubclr.evaluate.study import StudyOptions, run_study

    variants = tuple(v.strip() for v in args.variants.split(",") if v.strip())
    compare = tuple(v.strip() for v in args.compare.split(",") if v.strip())
    if len(compare) != 2 or set(compare) - set(variants):
        raise ConfigError(f"--compare takes two of the variants ({','.join(variants)}), "
                          f"got {args.compare!r}")
    if min(args.steps, args.threads, args.parallel) < 1:
        raise ConfigError(f"--steps, --threads and --parallel must be >= 1, got {args.steps}, "
                          f"{args.threads} and {args.parallel}")
    if args.title_seconds < 3:
        raise ConfigError(f"--title-seconds must be >= 3 (one shot), got {args.title_seconds}")
    if args.pretrain_titles < 1 or args.heldout_titles < 3:
        raise ConfigError("--pretrain-titles must be >= 1 and --heldout-titles >= 3 (probes "
                          "hold titles out)")
    opts = StudyOptions(out=args.out, variants=variants, seeds=_numbers(args.seeds, int, "--seeds"),
                        steps=args.steps, pretrain_titles=args.pretrain_titles,
                        heldout_titles=args.heldout_titles, title_seconds=args.title_seconds,
                        world_seed=args.world_seed,
                        configs=args.configs, overrides=tuple(args.overrides), compare=compare,
                        data=args.data, jobs=args.jobs, parallel=args.parallel, threads=args.threads,
                        device=args.device)
    document = run_study(opts)
    from dubclr.evaluate.study_report import study_markdown

    print(study_markdown(document))
    for kind, path in document["paths"].items():
        print(f"{kind + ':':10s}{path}")
    return 0
