"""Upload times as indexes write them (ISO 8601, ``2024-05-20T19:01:02.12Z``), read the same on every Python."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Optional

_ISO = re.compile(
    r"(?P<date>\d{4}-\d\d-\d\d)[T ](?P<time>\d\d:\d\d(?::\d\d)?)(?:\.(?P<frac>\d+))?"
    r"(?:(?P<utc>Z)|(?P<sign>[+-])(?P<hh>\d\d):?(?P<mm>\d\d))?$"
)


def parse_upload_time(text: Optional[str]) -> Optional[datetime]:
    """An ISO 8601 upload time as an aware datetime (UTC when no zone is given); None if unreadable.

    Indexes write ``2024-05-20T19:01:02.12Z``: a ``Z`` and any number of fraction
    digits, which ``datetime.fromisoformat`` refuses before Python 3.11.
    """
    match = _ISO.match(text.strip()) if text else None
    if match is None:
        return None
    year, month, day = match["date"].split("-")
    hour, minute, second = (match["time"] + ":00").split(":")[:3]
    micro = int(((match["frac"] or "") + "000000")[:6])
    zone = timezone.utc
    if match["sign"]:
        offset = timedelta(hours=int(match["hh"]), minutes=int(match["mm"]))
        zone = timezone(offset if match["sign"] == "+" else -offset)
    try:  # the constructor checks the ranges as strptime did, at a tenth of its cost
        return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tzinfo=zone)
    except ValueError:
        return None
