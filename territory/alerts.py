"""`territory alerts install|remove`: the shipped automations (automations/*.yaml) on the
Prefect server, posting to a Slack or generic webhook."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from uuid import UUID

from territory.console import EXIT_OK, CliError


def add_parser(sub: argparse._SubParsersAction) -> None:
    """The `alerts` command and its two subcommands."""
    alerts = sub.add_parser(
        "alerts", help="tier-change and run-summary messages through Prefect automations"
    )
    actions = alerts.add_subparsers(dest="alerts_command", required=True)
    install = actions.add_parser(
        "install",
        help="create or update the shipped automations on the Prefect server (PREFECT_API_URL)",
    )
    target = install.add_mutually_exclusive_group(required=True)
    target.add_argument(
        "--webhook-url",
        metavar="URL",
        help="store this Slack (or other) incoming-webhook URL as a Custom Webhook block and "
        "post to it; `-` reads it from stdin (kept out of your shell history)",
    )
    target.add_argument(
        "--slack-block", metavar="NAME", help="post through this Slack Webhook block"
    )
    target.add_argument(
        "--webhook-block", metavar="NAME", help="post through this Custom Webhook block"
    )
    install.add_argument(
        "--block-name",
        default="territory-alerts",
        help="name of the block --webhook-url creates or replaces (default: territory-alerts)",
    )
    _from_flag(install)
    install.set_defaults(handler=cmd_install)
    remove = actions.add_parser("remove", help="delete the shipped automations from the server")
    _from_flag(remove)
    remove.set_defaults(handler=cmd_remove)


def _from_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--from",
        dest="directory",
        metavar="DIR",
        help="automation definitions (*.yaml) to use instead of the shipped ones",
    )


def cmd_install(args: argparse.Namespace) -> int:
    from flows import automations

    definitions = automations.read_definitions(*_directory(args))
    automations.check(definitions)  # a broken file is refused before any call to the server
    url = _webhook_url(args)
    with automations.prefect_api() as client:
        block_id, block = _block(args, client, url)
        for line in automations.install(client, definitions, block_id):
            print(f"{line} -> {block}")
    return EXIT_OK


def cmd_remove(args: argparse.Namespace) -> int:
    from flows import automations

    definitions = automations.read_definitions(*_directory(args))
    with automations.prefect_api() as client:
        done = automations.uninstall(client, definitions)
    print("\n".join(done) if done else "no territory automations on the server")
    return EXIT_OK


def _directory(args: argparse.Namespace) -> list[Path]:
    return [Path(args.directory)] if args.directory else []


def _webhook_url(args: argparse.Namespace) -> str | None:
    """The --webhook-url given (read from stdin for `-`), checked; None without one."""
    from flows import automations

    if args.webhook_url is None:
        return None
    url = sys.stdin.readline().strip() if args.webhook_url == "-" else args.webhook_url.strip()
    if not url:
        raise CliError("--webhook-url: no URL given")
    automations.check_webhook_url(url)
    return url


def _block(args: argparse.Namespace, client: object, url: str | None) -> tuple[UUID, str]:
    """The notification block to post through, and how to name it (never by its URL)."""
    from flows import automations

    if args.slack_block:
        found = automations.find_block(client, "slack", args.slack_block)
        return found, f"slack-webhook/{args.slack_block}"
    if args.webhook_block:
        found = automations.find_block(client, "webhook", args.webhook_block)
        return found, f"custom-webhook/{args.webhook_block}"
    assert url is not None  # argparse requires one of the three
    saved = automations.save_webhook_block(url, args.block_name)
    return saved, f"custom-webhook/{args.block_name}"
