"""The commands, one function each: parsed arguments in, the client called, the result
printed, the exit status out."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Iterable
from typing import Any

from modelhouse.cli._output import emit, print_json, print_table
from modelhouse.cli._progress import bar, write_line
from modelhouse.client import Client
from modelhouse.config import config_path, write_config_file
from modelhouse.types import BillingAccount, FineTune, FineTuneEvent, KeyQuota


def _progress(args: argparse.Namespace) -> bool:
    return not args.quiet and sys.stderr.isatty()


def _client(args: argparse.Namespace) -> Client:
    return Client(base_url=args.base_url)


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
        print_json(
            [
                {"image": image, "prediction": p.id, "model": p.model, **result.raw}
                for image, p, result in outcomes
            ]
        )
    else:
        print_table(
            ["IMAGE", "LABEL", "SCORE"],
            [(image, r.label, f"{r.score:.4f}") for image, _, r in outcomes],
        )
    return 0


def models_list(args: argparse.Namespace) -> int:
    with _client(args) as client:
        models = list(client.models.list())
    if args.json:
        print_json([model.raw for model in models])
    else:
        print_table(
            ["ID", "NAME", "KIND", "ACTIVE", "LABELS"],
            [(m.id, m.name, m.kind, m.active, len(m.labels)) for m in models],
        )
    return 0


def datasets_upload(args: argparse.Namespace) -> int:
    with _client(args) as client:
        with bar(
            total=None,
            desc=f"upload {args.path}",
            enabled=_progress(args),
            unit="B",
            unit_scale=True,
        ) as upload_bar:

            def sent(position: int, size: int) -> None:
                upload_bar.total = size
                upload_bar.update(position - upload_bar.n)

            dataset = client.datasets.create(args.path, name=args.name, on_progress=sent)
        if args.wait:
            dataset = client.datasets.wait(dataset.id)
    emit(
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
            print_json(event)
        else:
            write_line(f"{event.created_at:%H:%M:%S} {event.level:<7} {event.message}")

    with bar(total=None, desc=job_id, enabled=_progress(args), unit="epoch") as epochs_bar:

        def polled(current: FineTune) -> None:
            epochs = current.progress.get("epochs") if current.progress else None
            if epochs:
                epochs_bar.total = epochs
                epochs_bar.update(int(current.progress.get("epoch") or 0) - epochs_bar.n)
            epochs_bar.set_postfix_str(current.status, refresh=True)

        job = client.fine_tunes.wait(
            job_id, on_update=polled, on_event=show, poll_interval=args.poll_interval
        )
    emit(
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
    emit(args, job, ["ID", "STATUS", "DATASET", "MODEL"], _job_row)
    return 0


def fine_tunes_watch(args: argparse.Namespace) -> int:
    with _client(args) as client:
        return _follow(args, client, args.job)


def fine_tunes_cancel(args: argparse.Namespace) -> int:
    with _client(args) as client:
        job = client.fine_tunes.cancel(args.job)
    emit(args, job, ["ID", "STATUS", "DATASET", "MODEL"], _job_row)
    return 0


def usage(args: argparse.Namespace) -> int:
    with _client(args) as client:
        report = client.usage.retrieve(start=args.start, end=args.end, group_by=args.group_by)
    if args.json:
        print_json(report)
        return 0
    print(f"{report.start:%Y-%m-%d %H:%M} to {report.end:%Y-%m-%d %H:%M} UTC ({report.currency})")
    print_table(
        [report.group_by.upper(), "METER", "QUANTITY", "AMOUNT"],
        [(r.group, r.meter, r.quantity, r.amount) for r in report.data],
    )
    return 0


def _show_account(args: argparse.Namespace, account: BillingAccount) -> None:
    if args.json:
        print_json(account)
        return
    period = account.current_period
    print(
        f"{period.start:%Y-%m-%d %H:%M} to {period.end:%Y-%m-%d %H:%M} UTC "
        f"(amounts in minor units of {account.currency})"
    )
    cap = "uncapped" if account.spend_cap is None else account.spend_cap
    print_table(
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
    print_table(
        ["API_KEY", "METER", "MONTHLY_LIMIT", "USED"],
        [(q.api_key, q.meter, q.monthly_limit, q.used) for q in quotas],
    )


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
        print_json([quota.raw for quota in quotas])
    else:
        _print_quotas(quotas)
    return 0
