"""``adamllm publish-metrics ORG [--metric NAME] [--private] [--dry-run]``."""

from __future__ import annotations

import argparse

DESCRIPTION = (
    "Push the evaluate metric modules (medical_vqa, multiple_choice, multilabel, rouge_l) to the Hub as Gradio "
    "Spaces ORG/<name>, one commit each, so that anyone can evaluate.load('ORG/<name>'). The token comes from "
    "HF_TOKEN or `hf auth login` and needs write access to ORG."
)


def register(subparsers, name: str, help: str) -> None:
    """Add the ``publish-metrics`` subcommand."""
    p = subparsers.add_parser(name, help=help, description=DESCRIPTION)
    p.add_argument("org", metavar="ORG", help="Hub user or organisation that will own the Spaces ORG/<name>")
    p.add_argument(
        "--metric",
        action="append",
        default=None,
        metavar="NAME",
        help="publish only this metric (repeatable; default: all of them)",
    )
    p.add_argument("--private", action="store_true", help="create the Spaces as private")
    p.add_argument(
        "--dry-run", action="store_true", help="list the Spaces and files that would be pushed; push nothing"
    )
    p.set_defaults(func=run)


def _one_line(err: BaseException) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return f"{type(err).__name__}: {lines[0]}" if lines else type(err).__name__


def run(args: argparse.Namespace) -> int:
    """Check every metric folder's Space header, then list (``--dry-run``) or push them; stop at the first failure."""
    from hub_tools.cli import fail
    from hub_tools.evaluation import metrics_dir
    from hub_tools.publish.hub import check_space_folder, metric_space_id, metric_spaces, push_metric_space

    try:
        plan = []
        for name, folder in metric_spaces(metrics_dir(), args.metric):
            plan.append((metric_space_id(args.org, name), folder, check_space_folder(folder)))
    except (FileNotFoundError, ValueError) as err:
        return fail("publish-metrics", err, 2 if isinstance(err, ValueError) else 1)
    visibility = "private" if args.private else "public"
    if args.dry_run:
        for repo_id, folder, files in plan:
            print(f"would push {folder} -> https://huggingface.co/spaces/{repo_id} (Space, gradio, {visibility})")
            print(f"  files: {', '.join(files)}")
        print(f"dry run: nothing pushed; then: evaluate.load({plan[0][0]!r})")
        return 0
    from huggingface_hub import constants, get_token

    if constants.HF_HUB_OFFLINE:
        return fail("publish-metrics", "cannot publish: HF_HUB_OFFLINE=1 is set; unset it to push to the Hub")
    if not get_token():
        return fail(
            "publish-metrics",
            f"no Hugging Face token: run `hf auth login` or set HF_TOKEN (write access to {args.org!r})",
        )
    done = []
    for repo_id, folder, _ in plan:
        try:
            url = push_metric_space(folder, repo_id, private=args.private)
        except Exception as err:  # network / auth / permission errors from huggingface_hub: one line
            pushed = f" (already pushed: {', '.join(done)})" if done else ""
            return fail("publish-metrics", f"pushing {repo_id!r} failed: {_one_line(err)}{pushed}")
        done.append(repo_id)
        print(f"published {repo_id}: {url}")
    print(f"load with: evaluate.load({done[0]!r})")
    return 0
