"""Which clinical columns the analysis reads, and how: categorical (groups to tell apart) or numeric (correlation).

Every column of the clinical table is used unless ``label_columns`` names some. A column with two distinct values,
or text with at most ``MAX_LEVELS`` values, is categorical; a numeric column with more values is numeric;
identifiers (text where every value differs) and text with more levels are skipped with a note. TCGA's
``acronym`` (cancer type) is the kNN label when present and no columns are named, as before; otherwise every
categorical column gets its own kNN accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from tybalt_core.common.errors import TybaltInputError

MAX_LEVELS = 20
CANCER_TYPE_COLUMN = "acronym"
KNN_NAMES = {CANCER_TYPE_COLUMN: "cancer_type"}  # kNN column name per label column, where it differs


@dataclass
class LabelPlan:
    """The clinical columns to analyse, by kind, and a note for each column left out."""

    categorical: list[str] = field(default_factory=list)
    numeric: list[str] = field(default_factory=list)
    knn: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def parse_label_columns(label_columns: str) -> list[str]:
    """The comma-separated ``label_columns`` parameter as a list of names ('' = none named)."""
    return [name.strip() for name in label_columns.split(",") if name.strip()]


def check_label_columns(clinical: pd.DataFrame | None, label_columns: str, source: str) -> None:
    """Refuse named label columns the clinical table lacks (checked before training, not after)."""
    named = parse_label_columns(label_columns)
    if not named:
        return
    if clinical is None:
        raise TybaltInputError(f"label_columns names {', '.join(named)} but {source} has no clinical table; "
                               f"give --clinical_data or drop --label_columns")
    missing = [name for name in named if name not in clinical.columns]
    if missing:
        raise TybaltInputError(f"label_columns names {', '.join(missing)}, not columns of the clinical table "
                               f"(it has {', '.join(map(str, clinical.columns[:10]))}); name existing columns")


def plan_labels(clinical: pd.DataFrame, label_columns: str = "") -> LabelPlan:
    """Sort the chosen columns of ``clinical`` into categorical, numeric and skipped (with the reason)."""
    named = parse_label_columns(label_columns)
    plan = LabelPlan()
    for column in named or [str(c) for c in clinical.columns]:
        values = clinical[column].dropna()
        levels = values.nunique()
        numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        if levels < 2:
            plan.notes.append(f"{column}: skipped, fewer than two distinct values")
        elif levels == len(values) > 2 and not numeric:
            plan.notes.append(f"{column}: skipped, every value differs (an identifier)")
        elif levels == 2 or (not numeric and levels <= MAX_LEVELS):
            plan.categorical.append(column)
        elif numeric:
            plan.numeric.append(column)
        else:
            plan.notes.append(f"{column}: skipped, {levels} levels (more than {MAX_LEVELS})")
    use_cancer_type = not named and CANCER_TYPE_COLUMN in plan.categorical
    plan.knn = [CANCER_TYPE_COLUMN] if use_cancer_type else list(plan.categorical)
    return plan


def knn_column(label: str) -> str:
    """The comparison-table column of the kNN accuracy of ``label`` (TCGA's acronym: cancer_type)."""
    return f"knn_accuracy_{KNN_NAMES.get(label, label)}"
