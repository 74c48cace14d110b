"""Reading: a spreadsheet file → headers and a stream of `SourceRow`s.

Each row carries the number Excel shows for it, so the report and the user's file line up.
Entirely empty rows are yielded (they are reported `skipped`) except trailing ones, which
spreadsheet tools leave behind after formatting and nobody counts as rows.

CSV and XLSX are streamed at flat memory. XLS, XLSB and ODS go through calamine, which loads
a workbook whole (those formats cannot be read row by row); ODS is measured first, because
its repeat attributes let a tiny file stand for billions of cells. Whatever is wrong with a
file ends as one `SourceError` naming the file and, where it can, the row.
"""

from importer.reading.delimited import CsvSource, sniff_delimiter
from importer.reading.detect import open_source
from importer.reading.rows import EXCEL_CELL_LIMIT, Cell, ReadOptions, Source, SourceRow
from importer.reading.workbook import CalamineSource, XlsxSource

__all__ = [
    "EXCEL_CELL_LIMIT",
    "CalamineSource",
    "Cell",
    "CsvSource",
    "ReadOptions",
    "Source",
    "SourceRow",
    "XlsxSource",
    "open_source",
    "sniff_delimiter",
]
