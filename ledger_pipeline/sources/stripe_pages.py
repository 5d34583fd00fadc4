"""Stripe's list calls, page by page, each request through the resource's retrying caller and
counted (retries included): what a run asked Stripe, for its metadata."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import stripe


class StripePages:
    def __init__(self, client: stripe.StripeClient, caller: Callable[..., Any]):
        self._client, self._caller = client, caller
        self.calls = 0  # every request, retries included: what Stripe is asked

    def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        def counted(*inner: Any) -> Any:
            self.calls += 1
            return fn(*inner)

        return self._caller(counted, *args)

    def _all(self, fn: Callable[..., Any], *args: Any) -> Iterator[dict[str, Any]]:
        """Every item of a list, page by page, each page with its own retries."""
        page = self._call(fn, *args)
        while True:
            yield from (item.to_dict() for item in page.data)
            if not page.has_more or not page.data:
                return
            page = self._call(page.next_page)
