"""The read side's models, for Django's registry: each report's view and read table (declared in
reporting/reports/, listed by reporting.catalog) and the read side's own state (reporting.state).

Importing the catalog registers every report's models; they are also importable from here by
name (`from reporting.models import OrderSummary, OrderSummaryTable`).
"""

from reporting.catalog import REPORTS
from reporting.state import ROW_COUNT_SLOTS, RowCount, TableState, ViewState

REPORT_MODELS = {
    model.__name__: model for report in REPORTS for model in (report.view, report.table)
}
globals().update(REPORT_MODELS)

__all__ = ["ROW_COUNT_SLOTS", "RowCount", "TableState", "ViewState", *REPORT_MODELS]
