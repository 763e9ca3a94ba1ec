"""sqlglot's Redshift dialect, adjusted so that generated PostgreSQL keeps Redshift's semantics.

Functions whose PostgreSQL spelling would differ in meaning (GETDATE's type, DATEDIFF's boundary
counting, ADD_MONTHS at month ends...) are parsed as calls to the installed `rsetl_compat` functions
instead of sqlglot's generic expressions. Type defaults of Redshift (VARCHAR = VARCHAR(256),
DECIMAL = DECIMAL(18, 0)) are made explicit, and constraints Redshift only declares are dropped.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlglot
from sqlglot import exp
from sqlglot.dialects.redshift import Redshift
from sqlglot.errors import ErrorLevel, ParseError, UnsupportedError
from sqlglot.parsers.redshift import RedshiftParser

from rsetl.redshift_sql.compat import COMPAT_SCHEMA
from rsetl.redshift_sql.exceptions import UnsupportedSqlError

# Redshift function -> compat function, and whether its first argument is a datepart keyword.
COMPAT_FUNCTIONS: dict[str, tuple[str, bool]] = {
    "GETDATE": ("getdate", False),
    "SYSDATE": ("sysdate", False),
    "DATEADD": ("dateadd", True),
    "DATE_ADD": ("dateadd", True),
    "DATEDIFF": ("datediff", True),
    "DATE_DIFF": ("datediff", True),
    "DATEPART": ("datepart", True),
    "DATE_PART": ("datepart", True),
    "DATE_TRUNC": ("date_trunc", True),
    "TRUNC": ("trunc", False),
    "ADD_MONTHS": ("add_months", False),
    "MONTHS_BETWEEN": ("months_between", False),
    "CONVERT_TIMEZONE": ("convert_timezone", False),
    "NVL2": ("nvl2", False),
    "DECODE": ("decode", False),
    "LEN": ("len", False),
    "CHARINDEX": ("charindex", False),
    "STRTOL": ("strtol", False),
    "LISTAGG": ("listagg", False),
    "JSON_PARSE": ("json_parse", False),
    "CONCAT": ("concat", False),
    "REGEXP_REPLACE": ("regexp_replace", False),
    "JSON_EXTRACT_PATH_TEXT": ("json_extract_path_text", False),
}

# Functions sqlglot already rewrites to exact PostgreSQL equivalents at statement level.
_SQLGLOT_EXACT = {"NVL2", "DECODE", "LEN", "CHARINDEX", "CONVERT_TIMEZONE", "LISTAGG"}

# Redshift system tables the layer keeps (in the compat schema).
SYSTEM_TABLES = {"stl_load_errors", "svv_roles", "stv_mv_info", "svl_mv_refresh_status"}

_UNSUPPORTED_TYPES = {exp.DType.GEOMETRY, exp.DType.GEOGRAPHY}


def compat_call(name: str, args: list[exp.Expr]) -> exp.Expr:
    """`rsetl_compat.<name>(args)`."""
    return exp.Dot(
        this=exp.to_identifier(COMPAT_SCHEMA), expression=exp.Anonymous(this=name, expressions=args)
    )


def datepart_literal(arg: exp.Expr | None) -> exp.Expr:
    """A datepart keyword argument (`day`) as the string literal the compat function takes."""
    if isinstance(arg, exp.Column) and not arg.table:
        return exp.Literal.string(arg.name)
    if isinstance(arg, exp.Var):
        return exp.Literal.string(arg.name)
    if arg is None:
        raise UnsupportedSqlError("a date function without its datepart argument")
    return arg


def _builder(name: str, datepart: bool) -> Callable[[list], exp.Expr]:
    def build(args: list) -> exp.Expr:
        if datepart and args:
            args = [datepart_literal(args[0]), *args[1:]]
        return compat_call(name, args)

    return build


def _builtin(name: str) -> Callable[[list], exp.Expr]:
    return lambda args: exp.Anonymous(this=name, expressions=args)


class _Parser(RedshiftParser):
    FUNCTIONS = {
        **RedshiftParser.FUNCTIONS,
        # PostgreSQL's own functions with Redshift's argument order and meaning.
        "REGEXP_SUBSTR": _builtin("regexp_substr"),
        "REPLICATE": _builtin("repeat"),
        **{
            name: _builder(target, datepart)
            for name, (target, datepart) in COMPAT_FUNCTIONS.items()
            if name not in _SQLGLOT_EXACT and name != "SYSDATE"
        },
    }
    NO_PAREN_FUNCTION_PARSERS = {
        **RedshiftParser.NO_PAREN_FUNCTION_PARSERS,
        "SYSDATE": lambda self: compat_call("sysdate", []),
    }


class RedshiftSource(Redshift):
    """Redshift as the layer reads it."""

    Parser = _Parser


_SOURCE = RedshiftSource()


def translate_statement(sql: str) -> str:
    """Translate one Redshift statement to PostgreSQL through sqlglot; refuse what cannot be mapped."""
    try:
        expressions = sqlglot.parse(sql, dialect=_SOURCE, error_level=ErrorLevel.RAISE)
    except ParseError as error:
        raise UnsupportedSqlError("syntax the Redshift parser cannot read", _first_error(error)) from error
    if len(expressions) != 1 or expressions[0] is None:
        raise UnsupportedSqlError("a statement list where one statement was expected")
    tree = expressions[0]
    if isinstance(tree, exp.Command):
        raise UnsupportedSqlError(f"statement {_leading_words(sql)}")
    tree = tree.transform(_to_postgres)
    try:
        return tree.sql(dialect="postgres", unsupported_level=ErrorLevel.RAISE)
    except UnsupportedError as error:
        raise UnsupportedSqlError("a construct PostgreSQL has no equivalent for", str(error)) from error


def _to_postgres(node: exp.Expr) -> exp.Expr:
    if isinstance(node, exp.Identifier) and node.quoted and node.this != node.this.lower():
        # Redshift folds quoted identifiers to lower case too (enable_case_sensitive_identifier is off).
        return exp.Identifier(this=node.this.lower(), quoted=True)
    if isinstance(node, exp.Table) and node.name.lower() in SYSTEM_TABLES and node.db in ("", "pg_catalog"):
        node.set("db", exp.to_identifier(COMPAT_SCHEMA))
        return node
    if isinstance(node, exp.DataType):
        return _data_type(node)
    if isinstance(node, exp.ApproxDistinct):
        # APPROXIMATE COUNT(DISTINCT x) is exact here: within Redshift's error bound of its estimate.
        return exp.Count(this=exp.Distinct(expressions=[node.this]))
    if isinstance(node, exp.WithinGroup) and isinstance(node.this, exp.GroupConcat):
        return _listagg(node)
    # LISTAGG(DISTINCT x, delimiter) without WITHIN GROUP: sqlglot reads the delimiter into the DISTINCT.
    if (
        isinstance(node, exp.GroupConcat)
        and isinstance(node.this, exp.Distinct)
        and node.args.get("separator") is None
    ):
        items = node.this.expressions
        if len(items) == 2:
            return exp.GroupConcat(this=exp.Distinct(expressions=[items[0]]), separator=items[1])
    if isinstance(
        node, (exp.PrimaryKey, exp.ForeignKey, exp.UniqueColumnConstraint, exp.PrimaryKeyColumnConstraint)
    ):
        return _drop_constraint(node)
    if isinstance(node, exp.Constraint) and any(
        isinstance(kind, (exp.PrimaryKey, exp.ForeignKey, exp.UniqueColumnConstraint))
        for kind in node.expressions
    ):
        return _drop_constraint(node)
    if isinstance(node, exp.ColumnConstraint) and isinstance(node.kind, exp.Reference):
        return _drop_constraint(node)
    if isinstance(node, exp.Insert) and isinstance(node.parent, exp.When):
        return _merge_insert(node)
    if isinstance(node, exp.Create) and node.args.get("no_schema_binding"):
        # A late-binding view has no PostgreSQL form: the view is bound to its tables at creation.
        node.set("no_schema_binding", False)
    return node


def _drop_constraint(node: exp.Expr) -> exp.Expr:
    # Redshift accepts PRIMARY KEY / UNIQUE / REFERENCES but never enforces them; PostgreSQL would
    # reject rows that Redshift loads, so they are not created.
    node.pop()
    return node


def _merge_insert(node: exp.Insert) -> exp.Insert:
    # sqlglot reads MERGE's `INSERT VALUES (...)` (no column list) as a column list holding a
    # function named VALUES; rebuild it as the values it is.
    target = node.this
    if (
        isinstance(target, exp.Tuple)
        and len(target.expressions) == 1
        and isinstance(target.expressions[0], exp.Anonymous)
        and target.expressions[0].name.upper() == "VALUES"
        and not node.expression
    ):
        return exp.Insert(expression=exp.Tuple(expressions=target.expressions[0].expressions))
    return node


def _data_type(node: exp.DataType) -> exp.DataType:
    kind = node.this
    if kind in _UNSUPPORTED_TYPES:
        raise UnsupportedSqlError(f"data type {kind.value}")
    params = node.expressions
    if kind in (exp.DType.VARCHAR, exp.DType.NVARCHAR):
        if not params:
            return exp.DataType.build("VARCHAR(256)", dialect="postgres")
        if params[0].name.upper() == "MAX":
            return exp.DataType.build("VARCHAR(65535)", dialect="postgres")
    if kind == exp.DType.TEXT:
        return exp.DataType.build("VARCHAR(256)", dialect="postgres")
    if kind == exp.DType.DECIMAL and not params:
        return exp.DataType.build("DECIMAL(18, 0)", dialect="postgres")
    if kind == exp.DType.SUPER:
        return exp.DataType.build("JSONB", dialect="postgres")
    return node


def _listagg(node: exp.WithinGroup) -> exp.Expr:
    concat = node.this
    value = concat.this
    separator = concat.args.get("separator")
    if isinstance(value, exp.Distinct) and separator is None and len(value.expressions) == 2:
        value, separator = exp.Distinct(expressions=[value.expressions[0]]), value.expressions[1]
    order = node.expression
    ordered = exp.Order(this=value, expressions=order.expressions if isinstance(order, exp.Order) else [])
    return exp.GroupConcat(this=ordered, separator=separator or exp.Literal.string(""))


def _first_error(error: ParseError) -> str:
    details = error.errors[0] if error.errors else {}
    return str(details.get("description") or error).splitlines()[0]


def _leading_words(sql: str) -> str:
    return " ".join(sql.split()[:2]).upper()
