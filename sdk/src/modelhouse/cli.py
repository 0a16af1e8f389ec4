"""``modelhouse``: the command-line tool, a thin layer over :class:`modelhouse.Client`.

The API key comes from ``MODELHOUSE_API_KEY`` or the config file written by
``modelhouse configure`` — never from the command line, where it would land in
shell history and ``ps``.  Results go to stdout (``--json`` for machines);
progress bars and errors go to stderr.  Exit status: 0 done, 1 the API or the
job failed, 2 a usage error.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from tqdm import tqdm

from modelhouse._version import __version__
from modelhouse.client import Client
from modelhouse.config import config_path, write_config_file
from modelhouse.errors import ModelhouseError
from modelhouse.progress import bar
from modelhouse.types import ApiObject, BillingAccount, FineTune, FineTuneEvent, KeyQuota

Handler = Callable[[argparse.Namespace], int]


# --- output ---------------------------------------------------------------------------------


def _print_json(value: Any) -> None:
    print(json.dumps(value.raw if isinstance(value, ApiObject) else value, default=str))


def _print_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    cells = [list(map(str, headers))] + [["" if v is None else str(v) for v in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        padded = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print("  ".join(padded).rstrip())


def _emit(
    args: argparse.Namespace,
    value: ApiObject,
    headers: Sequence[str],
    row: Callable[[Any], Sequence[Any]],
) -> None:
    if args.json:
        _print_json(value)
    else:
        _print_table(headers, [row(value)])


def _progress(args: argparse.Namespace) -> bool:
    return not args.quiet and sys.stderr.isatty()


def _client(args: argparse.Namespace) -> Client:
    return Client(base_url=args.base_url)


# --- commands -------------------------------------------------------------------------------


def configure(args: argparse.Namespace) -> int:
    """Store the key in the config file (mode 0600), read without echo or from stdin."""
    prompt = "Modelhouse API key: "
    key = (getpass.getpass(prompt) if sys.stdin.isatty() else sys.stdin.readline()).strip()
    if not key:
        print("No key given.", file=sys.stderr)
        return 2
    Client(key, base_url=args.base_url).ping()  # refuse to store a key that does not work
    write_config_file(config_path(), api_key=key, base_url=args.base_url)
    print(f"Saved to {config_path()}")
    return 0


def predict(args: argparse.Namespace) -> int:
    """Classify images in batches of ``--batch-size``; one result line per image."""
    with (
        _client(args) as client,
        bar(
            total=len(args.images), desc="predict", enabled=_progress(args), unit="img"
        ) as images_bar,
    ):
        outcomes = []
        for start in range(0, len(args.images), args.batch_size):
            batch = args.images[start : start + args.batch_size]
            if args.use_async:
                prediction = client.predictions.run(args.model, batch, top_k=args.top_k)
            else:
                prediction = client.models.predict(args.model, batch, top_k=args.top_k)
            if prediction.status != "succeeded" or prediction.results is None:
                print(
                    f"prediction {prediction.id} {prediction.status}: {prediction.error}",
                    file=sys.stderr,
                )
                return 1
            outcomes += [
                (image, prediction, result)
                for image, result in zip(batch, prediction.results, strict=True)
            ]
            images_bar.update(len(batch))
    if args.json:
        _print_json(
            [
                {"image": image, "prediction": p.id, "model": p.model, **result.raw}
                for image, p, result in outcomes
            ]
        )
    else:
        _print_table(
            ["IMAGE", "LABEL", "SCORE"],
            [(image, r.label, f"{r.score:.4f}") for image, _, r in outcomes],
        )
    return 0


def models_list(args: argparse.Namespace) -> int:
    with _client(args) as client:
        models = list(client.models.iterate())
    if args.json:
        _print_json([model.raw for model in models])
    else:
        _print_table(
            ["ID", "NAME", "KIND", "ACTIVE", "LABELS"],
            [(m.id, m.name, m.kind, m.active, len(m.labels)) for m in models],
        )
    return 0


def datasets_upload(args: argparse.Namespace) -> int:
    with _client(args) as client:
        dataset = client.datasets.create(args.path, name=args.name, progress=_progress(args))
        if args.wait:
            dataset = client.datasets.wait(dataset.id)
    _emit(
        args,
        dataset,
        ["ID", "STATUS", "CLASSES", "REJECTED"],
        lambda d: (d.id, d.status, ",".join(d.classes), len(d.rejected_files or [])),
    )
    if dataset.status == "failed":
        print(f"dataset {dataset.id} failed: {dataset.error}", file=sys.stderr)
        return 1
    return 0


def _hyperparameters(args: argparse.Namespace) -> dict[str, Any] | None:
    given = json.loads(args.hyperparameters) if args.hyperparameters else {}
    for name in ("epochs", "learning_rate", "batch_size", "seed"):
        if getattr(args, name) is not None:
            given[name] = getattr(args, name)
    return given or None


def _follow(args: argparse.Namespace, client: Client, job_id: str) -> int:
    def show(event: FineTuneEvent) -> None:
        if args.json:
            _print_json(event)
        else:
            tqdm.write(
                f"{event.created_at:%H:%M:%S} {event.level:<7} {event.message}", file=sys.stdout
            )

    job = client.fine_tunes.wait(
        job_id, progress=_progress(args), on_event=show, poll_interval=args.poll_interval
    )
    _emit(
        args,
        job,
        ["ID", "STATUS", "MODEL", "TRAINED_S"],
        lambda j: (j.id, j.status, j.model, j.trained_seconds),
    )
    return 0 if job.status == "succeeded" else 1


def _job_row(job: FineTune) -> tuple[Any, ...]:
    return job.id, job.status, job.dataset, job.model


def fine_tunes_create(args: argparse.Namespace) -> int:
    with _client(args) as client:
        job = client.fine_tunes.create(
            args.dataset,
            base_model=args.base_model,
            hyperparameters=_hyperparameters(args),
            suffix=args.suffix,
        )
        if args.watch:
            if not args.json:
                print(f"Started {job.id}")
            return _follow(args, client, job.id)
    _emit(args, job, ["ID", "STATUS", "DATASET", "MODEL"], _job_row)
    return 0


def fine_tunes_watch(args: argparse.Namespace) -> int:
    with _client(args) as client:
        return _follow(args, client, args.job)


def fine_tunes_cancel(args: argparse.Namespace) -> int:
    with _client(args) as client:
        job = client.fine_tunes.cancel(args.job)
    _emit(args, job, ["ID", "STATUS", "DATASET", "MODEL"], _job_row)
    return 0


def usage(args: argparse.Namespace) -> int:
    with _client(args) as client:
        report = client.usage.retrieve(start=args.start, end=args.end, group_by=args.group_by)
    if args.json:
        _print_json(report)
        return 0
    print(f"{report.start:%Y-%m-%d %H:%M} to {report.end:%Y-%m-%d %H:%M} UTC ({report.currency})")
    _print_table(
        [report.group_by.upper(), "METER", "QUANTITY", "AMOUNT"],
        [(r.group, r.meter, r.quantity, r.amount) for r in report.data],
    )
    return 0


def _show_account(args: argparse.Namespace, account: BillingAccount) -> None:
    if args.json:
        _print_json(account)
        return
    period = account.current_period
    print(
        f"{period.start:%Y-%m-%d %H:%M} to {period.end:%Y-%m-%d %H:%M} UTC "
        f"(amounts in minor units of {account.currency})"
    )
    cap = "uncapped" if account.spend_cap is None else account.spend_cap
    _print_table(
        ["PLAN", "STATUS", "SPEND_CAP", "CAP_FROM", "AMOUNT_SO_FAR", "PROJECTED"],
        [
            (
                account.plan,
                account.status,
                cap,
                account.spend_cap_source,
                account.amount_so_far,
                account.projected_amount,
            )
        ],
    )
    if account.quotas:
        print()
        _print_quotas(account.quotas)


def _print_quotas(quotas: Iterable[KeyQuota]) -> None:
    _print_table(
        ["API_KEY", "METER", "MONTHLY_LIMIT", "USED"],
        [(q.api_key, q.meter, q.monthly_limit, q.used) for q in quotas],
    )


def _limit(text: str) -> int | None:
    """An integer, or ``none`` for "no setting of its own" (the server judges the range)."""
    if text.lower() == "none":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer or 'none': {text!r}") from None


def billing(args: argparse.Namespace) -> int:
    with _client(args) as client:
        account = client.billing.retrieve()
    _show_account(args, account)
    return 0


def billing_set_cap(args: argparse.Namespace) -> int:
    with _client(args) as client:
        account = client.billing.set_spend_cap(args.amount)
    _show_account(args, account)
    return 0


def billing_set_quota(args: argparse.Namespace) -> int:
    with _client(args) as client:
        quotas = client.billing.set_key_quota(args.api_key, args.meter, args.limit)
    if args.json:
        _print_json([quota.raw for quota in quotas])
    else:
        _print_quotas(quotas)
    return 0


# --- parser ---------------------------------------------------------------------------------


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


if __name__ == "__main__":
    sys.exit(main())
