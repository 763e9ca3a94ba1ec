"""An ingest loads exactly the object version its event names: no key-prefix neighbours, no newer version.

COPY from ``s3://bucket/key`` loads every object whose key starts with ``key`` ("COPY from Amazon S3",
https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-data-source-s3.html) and reads the
version current when it runs; the ingest copies the event's version with ``CopySourceIfMatch``
("CopyObject", https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html: 412
PreconditionFailed once the ETag no longer matches) and COPYs it through a one-entry manifest
("Using a manifest to specify data files",
https://docs.aws.amazon.com/redshift/latest/dg/loading-data-files-using-manifest.html).
"""

from __future__ import annotations

from reliability_support import (
    executions_for,
    fact_rows,
    landing_bucket,
    ledger,
    query,
    sales_csv,
    settle,
    upload,
)

from rsetl.runtime import LocalRuntime
from rsetl.s3.notifications import object_event_entry


def test_a_key_that_prefixes_another_loads_only_its_own_object(runtime: LocalRuntime) -> None:
    key = "sales/2026/11/10/prefix.csv"
    upload(runtime, key + ".bak", sales_csv("prefix-bak", 4))
    settle(runtime)
    upload(runtime, key, sales_csv("prefix", 2))
    settle(runtime)
    assert ledger(runtime, key) == [("LOADED", 2)]
    assert fact_rows(runtime, key) == 2
    assert ledger(runtime, key + ".bak") == [("LOADED", 4)]
    assert fact_rows(runtime, key + ".bak") == 4


def test_a_version_overwritten_before_its_run_is_recorded_superseded_not_loaded(
    runtime: LocalRuntime,
) -> None:
    """The first version's event reaches its run only after a second upload replaced it (delivery is
    asynchronous): that run must neither load the second version's rows nor record them under the
    first version's ETag."""
    key = "sales/2026/11/10/overwritten.csv"
    bucket = landing_bucket(runtime)
    first = runtime.s3.put_object(bucket, key, sales_csv("overwritten-v1", 5))  # its event comes late
    second = upload(runtime, key, sales_csv("overwritten-v2", 3))
    settle(runtime)
    late = object_event_entry(
        detail_type="Object Created", reason="PutObject", bucket=bucket, key=key, size=len(first.body),
        etag=first.etag, version_id=None, requester=runtime.template.account_id, request_id="late-delivery",
    )  # fmt: skip
    runtime.events.publish([late])
    settle(runtime)
    by_etag = {
        etag: (status, rows)
        for etag, status, rows in query(
            runtime, "SELECT etag, status, rows_loaded FROM etl.load_ledger WHERE object_key = %s", key
        )
    }
    assert by_etag == {first.etag: ("SUPERSEDED", 0), second.etag: ("LOADED", 3)}
    assert fact_rows(runtime, key) == 3
    ((reason,),) = query(
        runtime,
        "SELECT error_message FROM etl.load_ledger WHERE object_key = %s AND status = 'SUPERSEDED'",
        key,
    )
    assert f"is no longer version {first.etag}: it was overwritten" in reason
    runs = executions_for(runtime, key)
    assert sorted(run.status for run in runs) == ["SUCCEEDED", "SUCCEEDED"]
