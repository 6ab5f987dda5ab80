"""Data in and out: problems from JSON, CSV, XLSX or pandas; awards to CSV, XLSX, JSON and 360Giving."""

from allocate.io.publisher import Publisher, read_publisher
from allocate.io.read import problem_from_dataframe, read_csv_files, read_csv_folder, read_problem, read_xlsx
from allocate.io.safe import neutralise, restore
from allocate.io.threesixty import grants_package, write_360giving_csv, write_360giving_json
from allocate.io.transparency import write_transparency_csv
from allocate.io.write import (
    read_allocation,
    read_award_schedule,
    write_allocation,
    write_problem,
)

__all__ = [
    "Publisher",
    "grants_package",
    "neutralise",
    "problem_from_dataframe",
    "read_allocation",
    "read_award_schedule",
    "read_csv_files",
    "read_csv_folder",
    "read_problem",
    "read_publisher",
    "read_xlsx",
    "restore",
    "write_360giving_csv",
    "write_360giving_json",
    "write_allocation",
    "write_problem",
    "write_transparency_csv",
]
