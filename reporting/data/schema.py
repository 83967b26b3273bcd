"""Contract 1 (data in): the five tables, their columns, types and allowed values.

The contract is declared once here, as plain data (:data:`CONTRACT`), and drives both
the normalisation in :mod:`reporting.data.normalize` and the checks in
:mod:`reporting.data.validate`. :func:`canonical_schema` turns the canonical (loaded)
shape of docs/conventions.md into a pandera schema, for modules and tests that want to
assert they were handed a canonical frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # pragma: no cover
    import pandera.pandas as pa

__all__ = [
    "CONTRACT",
    "CANONICAL_COLUMNS",
    "DATE_MAX",
    "DATE_MIN",
    "APPEAL_OUTCOMES",
    "DECISIONS",
    "KNOWN_KPIS",
    "MAX_COUNT",
    "MAX_NUMBER",
    "RATE_KPIS",
    "SAMPLE_TYPES",
    "SEVERITIES",
    "TABLES",
    "ColumnSpec",
    "TableSpec",
    "canonical_schema",
]

#: Contract table names, in canonical order (audits first; the only required one).
TABLES: tuple[str, ...] = (
    "audits", "production", "roster", "targets", "events",
    "appeals", "coaching",  # wave 2 (issue 15), optional
)

DECISIONS: tuple[str, ...] = ("approve", "reject")
SEVERITIES: tuple[str, ...] = ("critical", "major", "minor")
SAMPLE_TYPES: tuple[str, ...] = ("random", "targeted", "new_hire", "appeal", "calibration")
APPEAL_OUTCOMES: tuple[str, ...] = ("upheld", "overturned")

#: KPI names of docs/conventions.md (targets for other names are kept, with a warning).
KNOWN_KPIS: tuple[str, ...] = (
    "accuracy",
    "weighted_accuracy",
    "missed_violation_rate",
    "over_enforcement_rate",
    "miss_rate_among_violations",
    "over_enforcement_among_clean",
    "enforcement_precision",
    "enforcement_recall",
    "audit_volume",
    "audit_coverage",
    "handling_time_mean",
    "handling_time_median",
    "productivity",
    "sla_attainment",
    "overturn_rate",
)

#: KPIs that are rates (fractions in [0, 1]); a target of 95 for accuracy is an error.
RATE_KPIS: frozenset[str] = frozenset(
    {
        "accuracy",
        "weighted_accuracy",
        "missed_violation_rate",
        "over_enforcement_rate",
        "miss_rate_among_violations",
        "over_enforcement_among_clean",
        "enforcement_precision",
        "enforcement_recall",
        "audit_coverage",
        "sla_attainment",
        "overturn_rate",
    }
)

Kind = Literal["str", "category", "date", "float", "int"]

#: ASCII lower-case letters -> upper case: how codes with ``upper`` are normalised. Only ASCII
#: letters: the upper case of other letters is not one-to-one (``ß`` -> ``SS``) and differs
#: between Python and DuckDB, and the contract's codes are ASCII.
ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")

#: Earliest and latest date accepted in any date column (ISO text). Outside this window a
#: date is a data-entry or sentinel value (Excel's day 0 is 1899-12-30, "forever" is
#: often 9999-12-31), never a real decision, production day, hire or event date.
DATE_MIN: str = "1900-01-01"
DATE_MAX: str = "2199-12-31"

#: Largest magnitude accepted for a number column (``float``): far above any handling time,
#: ad spend or target, and small enough that sums over billions of rows stay finite and exact
#: to the cent.
MAX_NUMBER: float = 1e15
#: Largest value accepted for a count column (``int``: cases handled, SLA met per reviewer and
#: day): sums over tens of millions of rows stay far inside int64.
MAX_COUNT: float = 1e9


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a contract table.

    Attributes
    ----------
    name : str
        Exact column name.
    kind : {"str", "category", "date", "float", "int"}
        ``str``: free text, whitespace-stripped. ``category``: stripped and lower-cased,
        checked against ``allowed`` when given. ``date``: ISO ``YYYY-MM-DD`` (datetime
        strings accepted), stored as midnight ``datetime64[ns]``. ``float`` / ``int``:
        numbers (``int`` must be whole).
    required : bool
        Column must be present.
    nullable : bool
        Empty values allowed (otherwise each empty value is an error).
    allowed : tuple of str or None
        Allowed values (after normalisation) for categories.
    min_value : float or None
        Lower bound for numbers.
    min_inclusive : bool
        Whether ``min_value`` itself is allowed.
    unique : bool
        Values must be unique within the table.
    max_value : float or None
        Upper bound for numbers (inclusive); a sanity bound, not a business rule
        (:data:`MAX_NUMBER` for floats, :data:`MAX_COUNT` for counts), applied to the
        magnitude when there is no lower bound.
    upper : bool
        A code compared in upper case (``market``): ASCII letters are upper-cased on load
        (``br`` -> ``BR``), with a ``normalised_case`` warning saying how many values were.
    default : str or None
        Value used when the column is absent or a value is empty (e.g. ``"*"`` for
        targets' market, ``"random"`` for sample_type).
    """

    name: str
    kind: Kind
    required: bool = True
    nullable: bool = False
    allowed: tuple[str, ...] | None = None
    min_value: float | None = None
    min_inclusive: bool = True
    unique: bool = False
    default: str | None = None
    max_value: float | None = None
    upper: bool = False

    @property
    def upper_bound(self) -> float | None:
        """Upper bound of a number column: ``max_value``, else the kind's sanity bound."""
        if self.kind == "float":
            return self.max_value if self.max_value is not None else MAX_NUMBER
        if self.kind == "int":
            return self.max_value if self.max_value is not None else MAX_COUNT
        return None

    @property
    def expected(self) -> str:
        """Short description of a valid value, for messages."""
        if self.kind == "category" and self.allowed:
            return "one of " + "/".join(self.allowed)
        if self.kind == "date":
            return "a date YYYY-MM-DD"
        if self.kind in ("float", "int"):
            what = "a whole number" if self.kind == "int" else "a number"
            if self.min_value is not None:
                op = ">=" if self.min_inclusive else ">"
                what += f" {op} {self.min_value:g}"
            return what
        return "a text value"


@dataclass(frozen=True)
class TableSpec:
    """One contract table.

    Attributes
    ----------
    name : str
        Table name (file stem, sheet or database table name).
    columns : tuple of ColumnSpec
        Contract columns in canonical order.
    required : bool
        Only ``audits`` is required.
    id_column : str or None
        Column used to name an example row in problems (``audit_id``, ``reviewer_id``).
    """

    name: str
    columns: tuple[ColumnSpec, ...]
    required: bool = False
    id_column: str | None = None

    def column(self, name: str) -> ColumnSpec:
        """The spec of column ``name`` (KeyError when not in the contract)."""
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        """Contract column names in canonical order."""
        return [c.name for c in self.columns]

    @property
    def required_names(self) -> list[str]:
        """Names of the required columns."""
        return [c.name for c in self.columns if c.required]


C = ColumnSpec

AUDITS = TableSpec(
    "audits",
    (
        C("audit_id", "str", unique=True),
        C("decision_date", "date"),
        C("market", "str", upper=True),
        C("product_line", "str"),
        C("policy", "str"),
        C("reviewer_id", "str"),
        C("reviewer_decision", "category", allowed=DECISIONS),
        C("qa_decision", "category", allowed=DECISIONS),
        C("queue", "str", required=False, nullable=True),
        C("handling_time_s", "float", required=False, nullable=True, min_value=0.0),
        C(
            "weight",
            "float",
            required=False,
            nullable=True,
            min_value=0.0,
            min_inclusive=False,
        ),
        C(
            "sample_type",
            "category",
            required=False,
            nullable=True,
            allowed=SAMPLE_TYPES,
            default="random",
        ),
        C("severity", "category", required=False, nullable=True, allowed=SEVERITIES),
        C("auditor_id", "str", required=False, nullable=True),
        # wave 2: several audits of one case = double audits (checked by validate_double_audits)
        C("case_id", "str", required=False, nullable=True),
    ),
    required=True,
    id_column="audit_id",
)

PRODUCTION = TableSpec(
    "production",
    (
        C("date", "date"),
        C("reviewer_id", "str"),
        C("market", "str", upper=True),
        C("product_line", "str"),
        C("cases_handled", "int", min_value=0.0),
        C("productive_hours", "float", min_value=0.0),
        C("queue", "str", required=False, nullable=True),
        C("sla_met", "int", required=False, nullable=True, min_value=0.0),
    ),
    id_column="reviewer_id",
)

ROSTER = TableSpec(
    "roster",
    (
        C("reviewer_id", "str", unique=True),
        C("team_lead", "str"),
        C("market", "str", upper=True),
        C("hire_date", "date", nullable=True),
        C("site", "str", required=False, nullable=True),
        C("status", "category", required=False, nullable=True),
    ),
    id_column="reviewer_id",
)

TARGETS = TableSpec(
    "targets",
    (
        C("kpi", "category"),
        C("target", "float"),
        C("market", "str", required=False, nullable=True, default="*", upper=True),
        C("product_line", "str", required=False, nullable=True, default="*"),
        C("effective_from", "date", required=False, nullable=True),
    ),
)

EVENTS = TableSpec(
    "events",
    (
        C("date", "date"),
        C("description", "str"),
        C("market", "str", required=False, nullable=True, default="*", upper=True),
        C("policy", "str", required=False, nullable=True),
        C("product_line", "str", required=False, nullable=True),
        C("kind", "category", required=False, nullable=True),
    ),
)

# wave 2 (issue 15): appeals of moderation decisions and the coaching log, both optional.
# Cross-row checks (resolved before filed, coaching for someone not on the roster) live in
# reporting.data.validate_wave2.
APPEALS = TableSpec(
    "appeals",
    (
        C("appeal_id", "str", unique=True),
        C("market", "str", upper=True),  # like every table's: 'br' appeals are BR's
        C("policy", "str"),
        C("appeal_date", "date"),
        C("outcome", "category", allowed=APPEAL_OUTCOMES, nullable=True),
        C("resolved_date", "date", required=False, nullable=True),
        C("product_line", "str", required=False, nullable=True),
        C("case_id", "str", required=False, nullable=True),
        C("reviewer_id", "str", required=False, nullable=True),
        C("decision_date", "date", required=False, nullable=True),
    ),
    id_column="appeal_id",
)

COACHING = TableSpec(
    "coaching",
    (
        C("reviewer_id", "str"),
        C("date", "date"),
        C("kind", "category"),
        C("policy", "str", required=False, nullable=True),
        C("note", "str", required=False, nullable=True),
    ),
    id_column="reviewer_id",
)

#: The contract, by table name.
CONTRACT: dict[str, TableSpec] = {
    t.name: t for t in (AUDITS, PRODUCTION, ROSTER, TARGETS, EVENTS, APPEALS, COACHING)
}

#: Columns of each canonical (loaded) frame, in order; extra input columns follow.
CANONICAL_COLUMNS: dict[str, list[str]] = {
    "audits": AUDITS.names
    + ["is_correct", "error_type", "period", "week", "tenure_days", "team_lead", "site"],
    "production": PRODUCTION.names + ["period", "week"],
    "roster": ROSTER.names,
    "targets": TARGETS.names,
    "events": EVENTS.names,
    "appeals": APPEALS.names,
    "coaching": COACHING.names,
}

#: Derived audit columns (computed by the loader, never read from input).
DERIVED_AUDIT_COLUMNS: tuple[str, ...] = (
    "is_correct",
    "error_type",
    "period",
    "week",
    "tenure_days",
    "team_lead",
    "site",
)


def canonical_schema(table: str) -> pa.DataFrameSchema:
    """Pandera schema of a *canonical* (loaded) frame, per docs/conventions.md.

    Parameters
    ----------
    table : str
        One of :data:`TABLES`.

    Returns
    -------
    pandera.pandas.DataFrameSchema
        Checks column presence, dtypes and allowed values; extra columns allowed.

    Examples
    --------
    >>> canonical_schema("audits").validate(ds.audits, lazy=True)  # doctest: +SKIP
    """
    import pandera.pandas as pa

    spec = CONTRACT[table]
    cols: dict[str, pa.Column] = {}
    for c in spec.columns:
        nullable = c.nullable and c.default is None
        if c.kind == "date":
            cols[c.name] = pa.Column("datetime64[ns]", nullable=c.nullable)
        elif c.kind == "float":
            cols[c.name] = pa.Column(float, nullable=True)
        elif c.kind == "int":
            if table == "production" and c.name == "sla_met":
                cols[c.name] = pa.Column(float, nullable=True)
            else:
                cols[c.name] = pa.Column("int64")
        else:
            checks = [pa.Check.isin(list(c.allowed))] if c.allowed else []
            cols[c.name] = pa.Column(str, checks=checks, nullable=nullable, unique=c.unique)
    if table == "audits":
        cols["is_correct"] = pa.Column(bool)
        cols["error_type"] = pa.Column(
            str, pa.Check.isin(["missed_violation", "over_enforcement"]), nullable=True
        )
        cols["period"] = pa.Column(str, pa.Check.str_matches(r"^\d{4}-\d{2}$"))
        cols["week"] = pa.Column("datetime64[ns]")
        cols["tenure_days"] = pa.Column(float, nullable=True)
        cols["team_lead"] = pa.Column(str, nullable=True)
        cols["site"] = pa.Column(str, nullable=True)
    if table == "production":
        cols["period"] = pa.Column(str, pa.Check.str_matches(r"^\d{4}-\d{2}$"))
        cols["week"] = pa.Column("datetime64[ns]")
    return pa.DataFrameSchema(cols, strict=False, ordered=False, coerce=False)
