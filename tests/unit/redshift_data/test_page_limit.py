"""The size of a GetStatementResult page, as AWS states it."""

from __future__ import annotations

from rsetl.redshift_data import Limits


def test_a_result_page_holds_at_most_100_mb_read_as_10_to_the_8_bytes() -> None:
    """ "The Data API limit is 100 MB in the result set returned by the database" ("Troubleshooting
    issues for Amazon Redshift Data API", https://docs.aws.amazon.com/redshift/latest/mgmt/data-api-troubleshooting.html,
    in the translations that still carry the per-call figure): 100,000,000 bytes, as the 500 MB result
    limit is read, not 100 MiB (104,857,600), so a page served locally is never larger than AWS's."""
    limits = Limits()

    assert limits.result_page_bytes == 100_000_000
    assert limits.result_page_bytes * 5 == limits.max_result_bytes
