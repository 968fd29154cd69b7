"""`zoo zeroshot` (labels for images, offline) and `zoo demo` (a Gradio app for a run)."""


def add_parsers(verbs):
    zeroshot = verbs.add_parser(
        "zeroshot",
        help="Score free-text labels for images offline (ImageNet classifier + MiniLM, "
        "or a local CLIP preset).",
    )
    zeroshot.add_argument("images", nargs="+", help="Image files (JPEG, PNG, ...).")
    zeroshot.add_argument(
        "--labels", required=True, help='Comma-separated labels: "pizza,steak,sushi".'
    )
    zeroshot.add_argument(
        "--backbone",
        default="lite0",
        choices=("lite0", "lite2"),
        help="EfficientNet-Lite ImageNet classifier.",
    )
    zeroshot.add_argument(
        "--clip",
        metavar="PRESET_DIR",
        help="Score with a keras-hub CLIP preset folder (save_to_preset) instead.",
    )
    zeroshot.set_defaults(run=run_zeroshot)

    demo = verbs.add_parser("demo", help="Serve a Gradio app for a finished run.")
    demo.add_argument(
        "run_dir", help="A finished `zoo train` or `zoo tune` run to serve."
    )
    demo.add_argument(
        "--host",
        default="127.0.0.1",
        help="Address to bind (default 127.0.0.1; the app has no authentication).",
    )
    demo.add_argument("--port", type=int, help="Port (default: Gradio's, 7860 up).")
    demo.add_argument(
        "--unsafe", action="store_true", help="Load models that safe mode refuses."
    )
    demo.set_defaults(run=run_demo)


def run_zeroshot(args):
    from zoo.zeroshot import zero_shot

    results = zero_shot(args.images, args.labels, variant=args.backbone, clip=args.clip)
    for path, scores in zip(args.images, results):
        ranked = "  ".join(f"{label}={score:.3f}" for label, score in scores.items())
        print(f"{path}: {ranked}")
    return 0


def run_demo(args):
    from zoo.tuning.demo import serve_demo

    serve_demo(args.run_dir, host=args.host, port=args.port, safe_mode=not args.unsafe)
    return 0
