"""What alerts say: credentials taken out of any text from a run, lists capped."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger_pipeline.alerts.messages import capped, first_line, redact


@pytest.mark.parametrize(
    "text, shown",
    [
        ("login failed password=hunter2 for admin", "login failed password=*** for admin"),
        ("GET https://bob:s3cret@erp.example.com/x", "GET https://***@erp.example.com/x"),
        ("postgresql://reader:pw@db/nexacloud down", "postgresql://***@db/nexacloud down"),
        ("api_key: sk_live_123 refused", "api_key: *** refused"),
        ("?token=abc&x=1", "?token=***&x=1"),
        ('ODOO_API_KEY="k-1 2" rejected', "ODOO_API_KEY=*** rejected"),
        ("Authorization: Bearer eyJhbGciOi.x", "Authorization: *** ***"),
        ("header Bearer eyJhbGciOi.x", "header Bearer ***"),
        ("3 invoices unbalanced by 0.01 EUR", "3 invoices unbalanced by 0.01 EUR"),
    ],
)
def test_credentials_are_taken_out(text, shown):
    assert redact(text) == shown


secret_text = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="\"',;&="),
    min_size=4,
    max_size=30,
)


@given(before=st.text(max_size=40), secret=secret_text, after=st.text(max_size=40))
def test_a_known_secret_never_survives(before, secret, after):
    assert secret not in redact(f"{before}{secret}{after}", [secret])


@given(name=st.sampled_from(["password", "PASSWORD", "db_password", "secret", "token", "apikey"]),
       secret=secret_text)  # fmt: skip
def test_a_named_credential_never_survives(name, secret):
    assert secret not in redact(f"failed: {name}={secret} now").replace(f"{name}=", "")


def test_first_line_and_capped():
    assert first_line("\n  ValueError: bad\nTraceback ...") == "ValueError: bad"
    assert len(first_line("x" * 1000)) == 300
    assert capped([str(n) for n in range(22)]) == [*(str(n) for n in range(20)), "… and 2 more"]
    assert capped(["a"]) == ["a"]
