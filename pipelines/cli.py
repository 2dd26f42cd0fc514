"""The ``dancematte`` command line: process, run-flow, train, eval, report.

Only ``run-flow`` imports Prefect, so ``process`` starts fast and needs no Prefect server.

Exit codes: 0 success, 1 at least one clip failed, 2 usage error. Errors are one line,
never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipelines.run import ClipReport

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
USAGE_ERRORS = (  # (module, class): exit code 2
    ("pipelines.discovery", "InputError"), ("pipelines.run", "OutputFolderError"), ("seg.models", "ModelNotFoundError"),
    ("seg.segmenter", "DeviceError"), ("seg.segmenter", "ModelSettingsError"), ("seg.train", "TrainingError"),
)


class UsageError(Exception):
    """Bad arguments or environment: exit code 2."""


def parse_formats(values: list[str] | None) -> tuple[str, ...]:
    from pipelines.writers import FORMATS

    formats = tuple(dict.fromkeys(f.strip() for v in (values or ["prores"]) for f in v.split(",") if f.strip()))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise UsageError(f"unknown --format {', '.join(unknown)} (choose from {', '.join(FORMATS)})")
    return formats


def parse_decoder_channels(value: str | None) -> tuple[int, ...] | None:
    """``64,32,24,16,8`` -> (64, 32, 24, 16, 8): five positive widths, deepest first."""
    if value is None:
        return None
    try:
        channels = tuple(int(v) for v in value.split(","))
    except ValueError:
        channels = ()
    if len(channels) != 5 or min(channels) < 1:
        raise UsageError(f"--decoder-channels {value}: give five positive widths, deepest first (e.g. 64,32,24,16,8)")
    return channels


def parse_jobs(value: int | None) -> int:
    """``--jobs``: at least one; by default what the machine affords (``pipelines.parallel``)."""
    from pipelines.parallel import affordable_jobs

    if value is None:
        return affordable_jobs()
    if value < 1:
        raise UsageError(f"--jobs {value}: give at least 1")
    return value


def cmd_process(args: argparse.Namespace) -> int:
    from pipelines.discovery import scan

    found = scan(args.inputs)  # a missing input is a usage error before the heavy imports
    from pipelines.processor import ProcessSettings
    from pipelines.run import Run, RunSettings
    from pipelines.writers import WriterSettings
    from seg.segmenter import SegmenterSettings, pick_device

    pick_device(args.device)  # a bad --device is a usage error before any clip
    writer = WriterSettings(background=args.background) if args.background else WriterSettings()
    settings = RunSettings(
        out=args.out,
        process=ProcessSettings(formats=parse_formats(args.format), batch_size=args.batch_size, writer=writer,
                                dancers=args.dancers, flow=args.flow, zoom=not args.no_zoom, pose_split=not args.no_pose_split,
                                person_evidence=not args.no_person_gate,
                                timeout_s=args.timeout or None,
                                max_duration_s=args.max_duration or None, max_long_side=args.max_size or None),
        segmenter=SegmenterSettings(model=args.model, device=args.device, mirror=not args.no_mirror),
        show_progress=not args.quiet,
        stale_claim_s=args.stale_claims_after,
        jobs=parse_jobs(args.jobs),
    )
    return summarise_reports(Run(settings).run(found), args.out)


def cmd_run_flow(args: argparse.Namespace) -> int:
    if not args.inbox.is_dir():
        raise UsageError(f"{args.inbox}: not a folder")
    # ephemeral mode: the temporary server's first start migrates its database, slower than Prefect's 20 s default
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    from pipelines.flows import process_folder
    from seg.segmenter import pick_device

    if not args.use_deployment:  # deployment runs pick their device on the GPU workers
        pick_device(args.device)
    reports = process_folder(args.inbox, args.out, formats=parse_formats(args.format), model=args.model,
                             device=args.device, batch_size=args.batch_size, use_deployment=args.use_deployment,
                             jobs=parse_jobs(args.jobs))
    return summarise_reports(reports, args.out)


def summarise_reports(reports: list[ClipReport], out: Path) -> int:
    """Print a warning line for each processed clip whose matte needs a look, then the one-line summary; the exit code."""
    from pipelines.run import status_counts

    to_check = [r for r in reports if r.status == "ok" and r.note]
    for report in to_check:
        print(f"dancematte: warning: {Path(report.input).name}: {report.note}", file=sys.stderr)
    counts = status_counts(reports)
    passed_over = f", {counts['passed over']} other file(s) passed over" if counts["passed over"] else ""
    checks = f"; {len(to_check)} to check (see the report)" if to_check else ""
    print(f"{counts['ok']} processed, {counts['skipped']} skipped, {counts['failed']} failed{passed_over}{checks}; "
          f"manifest: {out / 'manifest.json'}")
    return EXIT_FAILED if counts["failed"] else EXIT_OK


def cmd_train(args: argparse.Namespace) -> int:
    from seg.train import TrainSettings, train

    settings = TrainSettings(
        images=args.images, masks=args.masks, out=args.out, arch=args.arch, encoder=args.encoder,
        long_side=args.size, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, device=args.device,
        seed=args.seed, resume=args.resume, max_steps_per_epoch=args.max_steps, max_minutes=args.max_minutes,
        init=args.init, workers=args.workers, decoder_channels=parse_decoder_channels(args.decoder_channels),
        person_free=tuple(args.person_free), real_labels=args.real_labels, real_share=args.real_share,
        person_free_share=args.person_free_share, real_close=args.real_close, captions=args.captions,
        crowd_rows=args.crowd_rows,
    )
    record = train(settings)
    last = record["history"][-1] if record["history"] else {}
    print(f"model saved to {args.out}: val IoU {last.get('val_iou', float('nan')):.4f}")
    return EXIT_OK


def cmd_eval(args: argparse.Namespace) -> int:
    from seg.evaluate import evaluate
    from seg.person_evidence import PersonDetector
    from seg.refine import MatteRefiner
    from seg.segmenter import Segmenter, SegmenterSettings
    from seg.zoom import PersonZoom

    for folder in (args.images, args.masks):
        if not folder.is_dir():
            raise UsageError(f"{folder}: not a folder")
    segmenter = Segmenter(SegmenterSettings(model=args.model, device=args.device, mirror=not args.no_mirror))
    refiner = None if args.network_only else MatteRefiner()
    zoom = None if args.network_only or args.no_zoom else PersonZoom(segmenter, PersonDetector())
    report = evaluate(args.images, args.masks, segmenter, refiner, progress=not args.json, zoom=zoom)
    print(json.dumps(report.as_dict()) if args.json else report.as_text())
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from analytics.report import report_main

    return report_main(args.out_dir, args.engagement, args.out)


def add_clip_options(parser: argparse.ArgumentParser, default_model: str) -> None:
    """Options shared by ``process`` and ``run-flow``."""
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--format", action="append", metavar="F", help="prores (default), webm, luma, png, composite; repeat or comma-separate")
    parser.add_argument("--device", default="auto", help="auto (default), cpu or cuda")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--model", default=default_model, help="shipped model name or saved model folder")
    parser.add_argument("--jobs", type=int, metavar="N",
                        help="clips processed at once, each in its own process (default: what the machine affords, "
                             "one per 2 cores and 2 GB of available memory)")


def build_parser() -> argparse.ArgumentParser:
    from pipelines.claims import DEFAULT_STALE_AFTER_S
    from seg.choices import DANCER_MODES, DEFAULT_ARCH, DEFAULT_ENCODER, DEFAULT_MODEL

    parser = argparse.ArgumentParser(prog="dancematte", description="Alpha mattes and movement statistics for dance clips.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("process", help="matte and measure clips")
    p.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help="video files or folders (searched recursively)")
    add_clip_options(p, DEFAULT_MODEL)
    p.add_argument("--background", type=Path, help="image for --format composite (default: a solid colour)")
    p.add_argument("--stale-claims-after", type=float, default=DEFAULT_STALE_AFTER_S, metavar="SECONDS",
                   help="take over other runs' claims older than this (default 3600)")
    p.add_argument("--dancers", choices=DANCER_MODES, default="main",
                   help="main (default): only the main dancer; all: everyone; each: one matte per dancer")
    p.add_argument("--flow", action="store_true",
                   help="also compute flow_magnitude (optical flow inside the body; about 13 ms a frame on 2 cores)")
    p.add_argument("--no-zoom", action="store_true",
                   help="skip the closer look at people small in the frame (faster; misses more of distant and floor-work dancers)")
    p.add_argument("--no-mirror", action="store_true",
                   help="skip the mirrored second pass of each frame (faster; more false positives beside the dancer)")
    p.add_argument("--no-pose-split", action="store_true",
                   help="keep the people the main dancer touches in the main matte (skips the skeleton look at them)")
    p.add_argument("--no-person-gate", action="store_true",
                   help="keep whatever the network calls person, found a person by the detector or not (statues and murals too)")
    p.add_argument("--timeout", type=float, default=3600, metavar="SECONDS", help="per-clip time limit (default 3600; 0: none)")
    p.add_argument("--max-duration", type=float, default=1800, metavar="SECONDS",
                   help="refuse longer clips (default 1800; 0: none)")
    p.add_argument("--max-size", type=int, default=4096, metavar="PIXELS",
                   help="refuse clips whose long side is larger (default 4096; 0: none)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(handler=cmd_process)

    f = sub.add_parser("run-flow", help="process a folder with the Prefect flow process-folder")
    f.add_argument("inbox", type=Path, metavar="INBOX", help="folder of clips (searched recursively)")
    add_clip_options(f, DEFAULT_MODEL)
    f.add_argument("--use-deployment", action="store_true", help="one process-clip deployment run per clip (needs a server)")
    f.set_defaults(handler=cmd_run_flow)

    t = sub.add_parser("train", help="train a segmentation model")
    t.add_argument("--images", type=Path, required=True)
    t.add_argument("--masks", type=Path, required=True)
    t.add_argument("--out", type=Path, required=True, help="model folder to write")
    t.add_argument("--arch", default=DEFAULT_ARCH)
    t.add_argument("--encoder", default=DEFAULT_ENCODER)
    t.add_argument("--size", type=int, default=320, help="input long side in pixels (default 320, as the shipped model)")
    t.add_argument("--epochs", type=int, default=12)
    t.add_argument("--batch-size", type=int, default=16)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--device", default="auto")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    t.add_argument("--max-steps", type=int, help="cap on steps per epoch (smoke runs)")
    t.add_argument("--max-minutes", type=float, help="stop after the epoch that crosses this many minutes")
    t.add_argument("--init", help="saved model (name or folder) whose tensors with matching names and shapes start the run")
    t.add_argument("--decoder-channels", metavar="W,W,W,W,W",
                   help="U-Net decoder widths, deepest first (default: the shipped model's 64,32,24,16,8)")
    t.add_argument("--workers", type=int, help="processes making augmented batches (default: all cores but two, at least one)")
    t.add_argument("--person-free", type=Path, nargs="+", default=[], metavar="DIR",
                   help="folders of photos with nobody in them: backgrounds and empty frames (those on the check side of data/splits/no-people.csv are left out)")
    t.add_argument("--real-labels", type=Path, metavar="DIR",
                   help="teacher-labelled real frames (benchmarks/real_labels.py); only clips on the train side of data/splits/real-clips.csv are used")
    t.add_argument("--real-share", type=float, default=0.25, help="share of each batch cut from real frames (default 0.25)")
    t.add_argument("--person-free-share", type=float, default=0.5,
                   help="of the real frames, the share of person-free photos when there are labelled frames too (default 0.5)")
    t.add_argument("--real-close", type=float, default=0.0,
                   help="of the labelled frames, the share cut close around their person, as the closer look sees people (default 0)")
    t.add_argument("--captions", type=float, default=0.0,
                   help="share of canvases with a burned-in caption drawn on them, not person (default 0)")
    t.add_argument("--crowd-rows", type=float, default=0.0,
                   help="share of composites with a row of people of one size standing behind the person, all person (default 0)")
    t.set_defaults(handler=cmd_train)

    e = sub.add_parser("eval", help="score a model on images with masks")
    e.add_argument("--images", type=Path, required=True)
    e.add_argument("--masks", type=Path, required=True)
    e.add_argument("--model", default=DEFAULT_MODEL)
    e.add_argument("--device", default="auto")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.add_argument("--network-only", action="store_true",
                   help="score the bare network (bilinear upsampling) instead of the product's edge-aware matte")
    e.add_argument("--no-zoom", action="store_true", help="the product's matte without the closer look at small people")
    e.add_argument("--no-mirror", action="store_true", help="each image seen once, without the mirrored second pass")
    e.set_defaults(handler=cmd_eval)

    r = sub.add_parser("report", help="self-contained HTML curation report of an output folder")
    r.add_argument("out_dir", type=Path, metavar="DIR")
    r.add_argument("--engagement", type=Path, metavar="FILE.csv", help="per-clip views, likes... to correlate")
    r.add_argument("--out", type=Path, metavar="FILE.html", help="default: DIR/report.html")
    r.set_defaults(handler=cmd_report)
    return parser


def usage_error_types() -> tuple[type[Exception], ...]:
    """The usage-error classes of the modules imported so far.

    An exception's class is always among them, so telling a usage error imports nothing (the
    command line imports torch only for the commands that need it).
    """
    imported = (getattr(sys.modules[module], name) for module, name in USAGE_ERRORS if module in sys.modules)
    return (UsageError, *imported)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print("dancematte: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if isinstance(exc, usage_error_types()):
            print(f"dancematte: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        if not isinstance(exc, OSError):
            raise
        from pipelines.video_io import error_reason  # e.g. the disk fills up while the manifest is written

        where = f"{exc.filename}: " if exc.filename else ""
        print(f"dancematte: error: {where}{error_reason(exc)}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
