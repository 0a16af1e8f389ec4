"""``modelhouse``: the command-line tool, a thin layer over :class:`modelhouse.Client`.

The API key comes from ``MODELHOUSE_API_KEY`` or the config file written by
``modelhouse configure`` — never from the command line, where it would land in
shell history and ``ps``.  Results go to stdout (``--json`` for machines);
progress bars (with the ``modelhouse-sdk[cli]`` extra) and errors go to stderr.
Exit status: 0 done, 1 the API or the job failed, 2 a usage error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from modelhouse._version import __version__
from modelhouse.cli._commands import (
    billing,
    billing_set_cap,
    billing_set_quota,
    configure,
    datasets_upload,
    fine_tunes_cancel,
    fine_tunes_create,
    fine_tunes_watch,
    models_list,
    predict,
    usage,
)
from modelhouse.errors import ModelhouseError

Handler = Callable[[argparse.Namespace], int]


def _command(
    commands: Any,
    name: str,
    handler: Handler,
    help_text: str,
    common: argparse.ArgumentParser,
) -> argparse.ArgumentParser:
    parser = commands.add_parser(name, help=help_text, description=help_text, parents=[common])
    parser.set_defaults(handler=handler)
    return parser


def _common_options(**parser_options: Any) -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False, **parser_options)
    common.add_argument("--json", action="store_true", help="print JSON on stdout")
    common.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    common.add_argument(
        "--base-url",
        help="the API's address (default: $MODELHOUSE_BASE_URL, "
        "the config file, or http://localhost:8000)",
    )
    return common


def _limit(text: str) -> int | None:
    """An integer, or ``none`` for "no setting of its own" (the server judges the range)."""
    if text.lower() == "none":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer or 'none': {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    common = _common_options()
    # For the sub-commands of a command that runs on its own (``billing``): an option
    # they were not given must not overwrite the one given before them.
    sub_common = _common_options(argument_default=argparse.SUPPRESS)

    about = "Modelhouse from the command line; the key comes from $MODELHOUSE_API_KEY or the config"
    parser = argparse.ArgumentParser(prog="modelhouse", description=f"{about} file.")
    parser.add_argument("--version", action="version", version=f"modelhouse {__version__}")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    _command(
        commands,
        "configure",
        configure,
        "save an API key (read from stdin) to the config file",
        common,
    )

    sub = _command(commands, "predict", predict, "classify images", common)
    sub.add_argument("images", nargs="+", metavar="IMAGE")
    sub.add_argument("-m", "--model", required=True, help="model id, family alias or base name")
    sub.add_argument("--top-k", type=int, default=3)
    sub.add_argument("--batch-size", type=int, default=16, help="images per request")
    sub.add_argument(
        "--async", dest="use_async", action="store_true", help="queue each batch and poll for it"
    )

    group = commands.add_parser("models", help="models").add_subparsers(
        required=True, metavar="COMMAND"
    )
    _command(group, "list", models_list, "list base models and your model versions", common)

    group = commands.add_parser("datasets", help="datasets").add_subparsers(
        required=True, metavar="COMMAND"
    )
    sub = _command(
        group,
        "upload",
        datasets_upload,
        "upload a dataset folder (zipped on the fly) or a zip",
        common,
    )
    sub.add_argument("path", metavar="DIR")
    sub.add_argument("--name")
    sub.add_argument(
        "--no-wait", dest="wait", action="store_false", help="do not wait for validation"
    )

    group = commands.add_parser("fine-tunes", help="fine-tune jobs").add_subparsers(
        required=True, metavar="COMMAND"
    )
    sub = _command(group, "create", fine_tunes_create, "start a fine-tune", common)
    sub.add_argument("--dataset", required=True)
    sub.add_argument("--base-model")
    sub.add_argument("--suffix", help="the model family to create")
    sub.add_argument("--epochs", type=int)
    sub.add_argument("--learning-rate", type=float)
    sub.add_argument("--batch-size", type=int)
    sub.add_argument("--seed", type=int)
    sub.add_argument("--hyperparameters", help="more hyperparameters as a JSON object")
    sub.add_argument("--watch", action="store_true", help="follow it until it ends")
    sub.add_argument("--poll-interval", type=float, default=2.0, help=argparse.SUPPRESS)
    sub = _command(group, "watch", fine_tunes_watch, "follow a fine-tune until it ends", common)
    sub.add_argument("job", metavar="JOB")
    sub.add_argument("--poll-interval", type=float, default=2.0, help="seconds between polls")
    sub = _command(group, "cancel", fine_tunes_cancel, "cancel a queued or running job", common)
    sub.add_argument("job", metavar="JOB")

    sub = _command(commands, "usage", usage, "usage and cost so far this period", common)
    sub.add_argument("--start", help="ISO 8601 time (default: the period's start)")
    sub.add_argument("--end", help="ISO 8601 time (default: now)")
    sub.add_argument("--group-by", choices=["day", "model", "api_key", "meter"])

    about = "plan, spend cap, key quotas, and this period's amount so far and projected"
    top = _command(commands, "billing", billing, about, common)
    group = top.add_subparsers(metavar="COMMAND")
    sub = _command(
        group,
        "set-cap",
        billing_set_cap,
        "cap each period's usage charges (needs an admin key)",
        sub_common,
    )
    sub.add_argument(
        "amount",
        type=_limit,
        metavar="AMOUNT|none",
        help="minor units of the account's currency; none: back to the plan's cap",
    )
    sub = _command(
        group,
        "set-quota",
        billing_set_quota,
        "limit one API key's use of a meter each period (needs an admin key)",
        sub_common,
    )
    sub.add_argument("api_key", metavar="KEY", help="an API key id (key_...)")
    sub.add_argument(
        "meter", metavar="METER", help="images_base, images_finetuned or training_seconds"
    )
    sub.add_argument(
        "limit", type=_limit, metavar="LIMIT|none", help="units per period; none lifts the quota"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (ModelhouseError, OSError, ValueError) as error:  # APIStatusError shows its request id
        print(f"error: {error}", file=sys.stderr)
    return 1
