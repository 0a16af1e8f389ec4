"""A throttle on password log-ins (the Django admin's), per client address and per
username, in core.ratelimit's atomic GCRA buckets.

Every log-in attempt takes one attempt from both buckets before the password is
checked, in one atomic step, so concurrent guesses cannot slip past the limit;
a successful log-in gives its attempt back, so only failures count.  Past the
limit the log-in form is shown again with the reason and ``Retry-After``
(status 429) and no password is checked.  When Redis does not answer, log-in
is refused (503) rather than left unthrottled.

Per username: an attacker can keep one account locked by failing on purpose (the
price of any per-account lock-out); the account's password is never at risk.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
from functools import wraps

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm

from core import ratelimit
from core.errors import ServiceUnavailable

PERIOD_S = 15 * 60


def _buckets(request) -> list[ratelimit.Bucket]:
    username = request.POST.get("username", "").strip().casefold()
    digest = hashlib.sha256(username.encode("utf-8", "replace")).hexdigest()[:32]
    return [
        ratelimit.Bucket(
            f"login:ip:{ratelimit.client_ip(request)}",
            getattr(settings, "LOGIN_FAILURES_PER_IP", 30),
            PERIOD_S,
        ),
        ratelimit.Bucket(
            f"login:user:{digest}", getattr(settings, "LOGIN_FAILURES_PER_USERNAME", 10), PERIOD_S
        ),
    ]


def throttled_admin_login(site):
    """``site.login`` (an AdminSite's view) behind the throttle."""
    view = site.login

    @wraps(view)
    def login(request, *args, **kwargs):
        if request.method != "POST":
            return view(request, *args, **kwargs)
        buckets = _buckets(request)
        try:
            decision = ratelimit.check(buckets)
        except ServiceUnavailable as exc:
            retry = exc.headers["Retry-After"]
            return _refused(view, request, "Log-in is unavailable; try again shortly.", 503, retry)
        if not decision.allowed:
            message = f"Too many failed log-ins; try again in {decision.retry_after_s} s."
            return _refused(view, request, message, 429, decision.retry_after_s)
        response = view(request, *args, **kwargs)
        if response.status_code == 302 and request.user.is_authenticated:
            # Redis gone meanwhile: the attempt stays counted, which is only ever stricter.
            with contextlib.suppress(ServiceUnavailable):
                ratelimit.refund(buckets)
        return response

    return login


def _refused(view, request, message: str, status: int, retry_after) -> object:
    """The log-in form, unchecked, with ``message`` as its error."""
    form = AuthenticationForm(request)
    form.cleaned_data = {}  # unbound: add_error expects what a clean would have left
    form.add_error(None, message)
    as_get = copy.copy(request)  # a GET renders the form and checks no password
    as_get.method = "GET"
    response = view(as_get, extra_context={"form": form})
    response.status_code = status
    response["Retry-After"] = str(retry_after)
    return response
