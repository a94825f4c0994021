"""Reporting periods and `knowledge_ts`: when a chunk's text became public (naive UTC).

Point-in-time rules, most precise first:

* A known publication date D (MAEC call date, EDGAR filing date, a filing page named
  `..._dated-YYYY-MM-DD`) gives D + 1 day at 00:00: the text came out at some time on D,
  so it is surely public from the next midnight on.
* Only a reporting period known (ECTSum and speaker-turn calls, filings named by period):
  the day after the calendar period ends + 90 days. Earnings calls and 10-Qs come within
  ~45 days of quarter end and 10-Ks within 60-90 days, so the estimate is late, never early
  (late only costs a little training data; early would leak future text into evaluations).
  Fiscal years that lag the calendar (a fiscal Q4 ending in January) stay covered by the margin.
"""

from __future__ import annotations

import datetime as dt

PUBLICATION_MARGIN = dt.timedelta(days=90)


def quarter_label(year: int, quarter: int) -> str:
    return f"{year}Q{quarter}"


def fiscal_year_label(year: int) -> str:
    return f"FY{year}"


def quarter_end(year: int, quarter: int) -> dt.date:
    next_quarter_start = dt.date(year + 1, 1, 1) if quarter == 4 else dt.date(year, 3 * quarter + 1, 1)
    return next_quarter_start - dt.timedelta(days=1)


def known_from(publication_date: dt.date) -> dt.datetime:
    """Public from the midnight after the publication date."""
    return dt.datetime.combine(publication_date + dt.timedelta(days=1), dt.time())


def estimated_from_period_end(period_end: dt.date) -> dt.datetime:
    """Conservative publication estimate when only the reporting period is known."""
    return known_from(period_end) + PUBLICATION_MARGIN


def quarter_known_from(year: int, quarter: int) -> dt.datetime:
    return estimated_from_period_end(quarter_end(year, quarter))


def year_known_from(year: int) -> dt.datetime:
    return estimated_from_period_end(dt.date(year, 12, 31))


def reported_quarter(call_date: dt.date) -> tuple[int, int]:
    """The quarter an earnings call reports on: the calendar quarter before the call's own.

    Calls follow the quarter they discuss by a few weeks (a call on 2015-02-25 presents Q4 2014);
    MAEC gives only the call date, so this is the best label available for it.
    """
    quarter = (call_date.month - 1) // 3 + 1
    return (call_date.year, quarter - 1) if quarter > 1 else (call_date.year - 1, 4)


def fiscal_year_of_period_end(period_end: dt.date) -> int:
    """The fiscal year a 10-K's period end belongs to.

    Years ending in January (52/53-week years ending in the first days of January, retail years
    ending late January) are named after the previous calendar year, in which most of them fall.
    """
    return period_end.year - 1 if period_end.month == 1 else period_end.year
