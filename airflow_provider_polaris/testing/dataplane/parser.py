"""Precedence-climbing parser: SQL text → :mod:`nodes` trees.

Grammar (loosest binding first): ``OR``; ``AND``; ``NOT``; predicates (comparisons, ``IS [NOT]
NULL``, ``[NOT] IN``, ``[NOT] LIKE``, ``[NOT] BETWEEN``); ``+ -``; ``* / % ||`` (Calcite gives
``||`` the multiplicative level); unary ``- +``; primaries.
"""

from __future__ import annotations

import json
from typing import Any

from airflow_provider_polaris.testing.dataplane import nodes as n
from airflow_provider_polaris.testing.dataplane.errors import ExpressionError, UnsupportedError
from airflow_provider_polaris.testing.dataplane.lexer import Token, tokenize
from airflow_provider_polaris.testing.dataplane.timeutil import UNIT_PERIODS, parse_timestamp

# Words that end an expression or a select item, so they can never be bare column names/aliases.
_RESERVED_WORDS = """
    SELECT FROM WHERE GROUP BY HAVING ORDER LIMIT OFFSET AS AND OR NOT IN IS NULL LIKE BETWEEN
    CASE WHEN THEN ELSE END CAST TRUE FALSE DISTINCT ASC DESC PARTITIONED CLUSTERED INSERT
    REPLACE INTO OVERWRITE UNION JOIN ON ESCAPE WITH INNER LEFT RIGHT FULL CROSS
"""
RESERVED = frozenset(_RESERVED_WORDS.split())
_COMPARISONS = ("=", "<>", "!=", "<", "<=", ">", ">=")


class Parser:
    """Parses one SQL text; use :func:`parse_expression` or :func:`parse_statement`."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.pos = 0
        self.params = 0

    # --- token helpers ---------------------------------------------------------------------------

    @property
    def tok(self) -> Token:
        """The current token."""
        return self.tokens[self.pos]

    def peek(self, ahead: int = 1) -> Token:
        """A token after the current one (``eof`` past the end)."""
        return self.tokens[min(self.pos + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        """Consume and return the current token."""
        token = self.tokens[self.pos]
        self.pos = min(self.pos + 1, len(self.tokens) - 1)
        return token

    def accept_word(self, *words: str) -> bool:
        """Consume the current token if it is one of the keywords."""
        if self.tok.is_word(*words):
            self.advance()
            return True
        return False

    def accept_op(self, *ops: str) -> bool:
        """Consume the current token if it is one of the operators."""
        if self.tok.is_op(*ops):
            self.advance()
            return True
        return False

    def expect_word(self, word: str) -> None:
        """Consume a keyword or fail."""
        if not self.accept_word(word):
            self.fail(f"expected {word}")

    def expect_op(self, op: str) -> None:
        """Consume an operator or fail."""
        if not self.accept_op(op):
            self.fail(f"expected '{op}'")

    def fail(self, what: str) -> None:
        """Raise a Druid-like parse error at the current token."""
        token = self.tok
        shown = "end of input" if token.kind == "eof" else repr(token.value)
        raise ExpressionError(
            f"Received an unexpected token [{shown}] at position {token.pos} ({what})"
        )

    def expect_end(self) -> None:
        """Fail unless all input was consumed (a trailing ';' is allowed)."""
        self.accept_op(";")
        if self.tok.kind != "eof":
            self.fail("expected end of input")

    # --- expressions -----------------------------------------------------------------------------

    def expression(self) -> n.Node:
        """Parse a full expression."""
        return self._or()

    def _or(self) -> n.Node:
        node = self._and()
        while self.accept_word("OR"):
            node = n.Binary("OR", node, self._and())
        return node

    def _and(self) -> n.Node:
        node = self._not()
        while self.accept_word("AND"):
            node = n.Binary("AND", node, self._not())
        return node

    def _not(self) -> n.Node:
        if self.accept_word("NOT"):
            return n.Unary("NOT", self._not())
        return self._predicate()

    def _predicate(self) -> n.Node:
        node = self._additive()
        while True:
            if self.tok.kind == "op" and self.tok.value in _COMPARISONS:
                op = self.advance().value
                node = n.Binary("<>" if op == "!=" else op, node, self._additive())
            elif self.accept_word("IS"):
                negated = self.accept_word("NOT")
                if self.accept_word("NULL"):
                    node = n.IsNull(node, negated)
                elif self.tok.is_word("TRUE", "FALSE"):
                    node = n.IsNull(node, negated, value=self.advance().value.upper() == "TRUE")
                else:
                    self.fail("expected NULL, TRUE or FALSE after IS")
            elif self.tok.is_word("IN", "LIKE", "BETWEEN") or (
                self.tok.is_word("NOT") and self.peek().is_word("IN", "LIKE", "BETWEEN")
            ):
                negated = self.accept_word("NOT")
                keyword = self.advance().value.upper()
                if keyword == "IN":
                    self.expect_op("(")
                    if self.tok.is_word("SELECT"):
                        raise UnsupportedError("Subqueries are not supported by the emulator")
                    items = self._expression_list()
                    self.expect_op(")")
                    node = n.InList(node, tuple(items), negated)
                elif keyword == "LIKE":
                    pattern = self._additive()
                    escape = self._additive() if self.accept_word("ESCAPE") else None
                    node = n.Like(node, pattern, negated, escape)
                else:
                    low = self._additive()
                    self.expect_word("AND")
                    node = n.Between(node, low, self._additive(), negated)
            else:
                return node

    def _additive(self) -> n.Node:
        node = self._multiplicative()
        while self.tok.is_op("+", "-"):
            op = self.advance().value
            node = n.Binary(op, node, self._multiplicative())
        return node

    def _multiplicative(self) -> n.Node:
        node = self._unary()
        while self.tok.is_op("*", "/", "%", "||"):
            op = self.advance().value
            node = n.Binary(op, node, self._unary())
        return node

    def _unary(self) -> n.Node:
        if self.tok.is_op("-", "+"):
            op = self.advance().value
            operand = self._unary()
            if op == "-" and isinstance(operand, n.Literal) and _is_number(operand.value):
                return n.Literal(-operand.value)
            return operand if op == "+" else n.Unary("-", operand)
        return self._primary()

    def _expression_list(self) -> list[n.Node]:
        items = [self.expression()]
        while self.accept_op(","):
            items.append(self.expression())
        return items

    def _primary(self) -> n.Node:
        token = self.tok
        if token.kind == "number":
            self.advance()
            text = token.value
            is_float = any(c in text for c in ".eE")
            return n.Literal(float(text) if is_float else int(text))
        if token.kind == "string":
            self.advance()
            return n.Literal(token.value)
        if token.kind == "param":
            self.advance()
            self.params += 1
            return n.Param(self.params - 1)
        if token.kind == "qident":
            return self._column_reference()
        if token.is_op("("):
            self.advance()
            if self.tok.is_word("SELECT"):
                raise UnsupportedError("Subqueries are not supported by the emulator")
            node = self.expression()
            self.expect_op(")")
            return node
        if token.kind == "ident":
            return self._word()
        self.fail("expected an expression")
        raise AssertionError  # pragma: no cover - fail() raises

    def _column_reference(self) -> n.Node:
        # Qualified names ("t"."c", druid."t") keep their last part: there is only one table.
        name = self.advance().value
        while self.tok.is_op(".") and self.peek().kind in ("qident", "ident"):
            self.advance()
            name = self.advance().value
        return n.Column(name)

    def _word(self) -> n.Node:
        word = self.tok.value.upper()
        if word == "NULL":
            self.advance()
            return n.Literal(None)
        if word in ("TRUE", "FALSE"):
            self.advance()
            return n.Literal(word == "TRUE")
        if word in ("TIMESTAMP", "DATE") and self.peek().kind == "string":
            self.advance()
            text = self.advance().value
            try:
                return n.Literal(parse_timestamp(text))
            except ValueError:
                raise ExpressionError(f"Illegal {word} literal '{text}'") from None
        if word == "CASE":
            return self._case()
        if word == "CAST":
            self.advance()
            self.expect_op("(")
            operand = self.expression()
            self.expect_word("AS")
            type_name = self._type_name()
            self.expect_op(")")
            return n.Cast(operand, type_name)
        if word in ("CURRENT_TIMESTAMP", "CURRENT_DATE") and not self.peek().is_op("("):
            self.advance()
            return n.Call(word, ())
        if word == "INTERVAL":
            raise UnsupportedError("INTERVAL literals are not supported by the emulator")
        if self.peek().is_op("("):
            return self._call()
        if word in RESERVED:
            self.fail("expected an expression")
        return self._column_reference()

    def _type_name(self) -> str:
        if self.tok.kind != "ident":
            self.fail("expected a type name")
        name = self.advance().value.upper()
        if name == "DOUBLE" and self.tok.is_word("PRECISION"):
            self.advance()
        if self.accept_op("("):  # VARCHAR(10), DECIMAL(10, 2): the size does not matter here
            while not self.accept_op(")"):
                if self.tok.kind == "eof":
                    self.fail("expected ')'")
                self.advance()
        return name

    def _case(self) -> n.Node:
        self.expect_word("CASE")
        subject = None if self.tok.is_word("WHEN") else self.expression()
        whens: list[tuple[n.Node, n.Node]] = []
        while self.accept_word("WHEN"):
            condition = self.expression()
            self.expect_word("THEN")
            whens.append((condition, self.expression()))
        if not whens:
            self.fail("expected WHEN")
        default = self.expression() if self.accept_word("ELSE") else None
        self.expect_word("END")
        return n.Case(subject, tuple(whens), default)

    def _call(self) -> n.Node:
        name = self.advance().value.upper()
        self.expect_op("(")
        if self.accept_op(")"):
            return n.Call(name, ())
        if name in ("FLOOR", "CEIL"):
            operand = self.expression()
            if self.accept_word("TO"):
                unit = self.advance().value.upper()
                if unit not in UNIT_PERIODS:
                    raise ExpressionError(f"Unknown time unit {unit} in {name}")
                self.expect_op(")")
                return n.Call(name, (operand, n.Literal(UNIT_PERIODS[unit])), to_unit=True)
            args = [operand, *(self._expression_list() if self.accept_op(",") else [])]
            self.expect_op(")")
            return n.Call(name, tuple(args))
        if name == "EXTRACT":
            unit = self.advance().value.upper()
            self.expect_word("FROM")
            operand = self.expression()
            self.expect_op(")")
            return n.Call("TIME_EXTRACT", (operand, n.Literal(unit)))
        distinct = self.accept_word("DISTINCT")
        if self.tok.is_op("*") and self.peek().is_op(")"):
            self.advance()
            arguments: list[n.Node] = [n.Star()]
        else:
            arguments = self._expression_list()
        self.expect_op(")")
        return n.Call(name, tuple(arguments), distinct=distinct)

    # --- statements ------------------------------------------------------------------------------

    def statement(self) -> n.Select | n.Insert:
        """Parse SELECT, INSERT INTO ... SELECT or REPLACE INTO ... OVERWRITE ... SELECT."""
        if self.tok.is_word("EXPLAIN", "WITH", "DELETE", "UPDATE", "CREATE", "DROP"):
            raise UnsupportedError(
                f"{self.tok.value.upper()} statements are not supported by the emulator"
            )
        if self.tok.is_word("INSERT", "REPLACE"):
            statement: n.Select | n.Insert = self._insert()
        else:
            statement = self.select()
        self.expect_end()
        return statement

    def _table_name(self) -> str:
        if self.tok.kind not in ("qident", "ident") or self.tok.is_word(*RESERVED):
            self.fail("expected a table name")
        name = self.advance().value
        while self.accept_op("."):
            name = self.advance().value
        return name

    def _insert(self) -> n.Insert:
        replace = self.advance().value.upper() == "REPLACE"
        self.expect_word("INTO")
        table = self._table_name()
        overwrite: n.Node | str | None = None
        if replace:
            self.expect_word("OVERWRITE")
            if self.accept_word("ALL"):
                overwrite = "all"
            else:
                self.expect_word("WHERE")
                overwrite = self.expression()
        select = self.select()
        partitioned_by = None
        if self.accept_word("PARTITIONED"):
            self.expect_word("BY")
            partitioned_by = self._partitioning()
        else:
            self.fail("expected PARTITIONED BY")
        clustered: list[n.Node] = []
        if self.accept_word("CLUSTERED"):
            self.expect_word("BY")
            clustered = self._expression_list()
        return n.Insert(table, select, replace, overwrite, partitioned_by, tuple(clustered))

    def _partitioning(self) -> str:
        if self.accept_word("ALL"):
            self.accept_word("TIME")
            return "ALL"
        if self.tok.kind == "string":
            return self.advance().value
        if self.tok.kind == "ident" and not self.peek().is_op("("):
            return self.advance().value.upper()
        node = self.expression()  # FLOOR(__time TO DAY), TIME_FLOOR(__time, 'PT1H')
        if isinstance(node, n.Call) and len(node.args) == 2:
            period = node.args[1]
            if isinstance(period, n.Literal) and isinstance(period.value, str):
                return period.value
        raise ExpressionError("PARTITIONED BY must be a granularity such as DAY or 'PT1H'")

    def select(self) -> n.Select:
        """Parse a SELECT statement (no trailing-input check)."""
        self.expect_word("SELECT")
        distinct = self.accept_word("DISTINCT")
        self.accept_word("ALL")
        items = [self._select_item()]
        while self.accept_op(","):
            items.append(self._select_item())
        source: n.TableSource | n.ExternalSource | None = None
        if self.accept_word("FROM"):
            source = self._from()
        if self.tok.is_word("JOIN", "INNER", "LEFT", "RIGHT", "FULL", "CROSS") or self.tok.is_op(
            ","
        ):
            raise UnsupportedError("Joins are not supported by the emulator")
        where = self.expression() if self.accept_word("WHERE") else None
        group_by: tuple[n.Node, ...] | None = None
        if self.accept_word("GROUP"):
            self.expect_word("BY")
            group_by = tuple(self._expression_list())
        having = self.expression() if self.accept_word("HAVING") else None
        order: list[n.OrderItem] = []
        if self.accept_word("ORDER"):
            self.expect_word("BY")
            while True:
                expr = self.expression()
                descending = self.accept_word("DESC")
                if not descending:
                    self.accept_word("ASC")
                order.append(n.OrderItem(expr, descending))
                if not self.accept_op(","):
                    break
        limit = self._count() if self.accept_word("LIMIT") else None
        offset = self._count() if self.accept_word("OFFSET") else 0
        if self.tok.is_word("UNION"):
            raise UnsupportedError("UNION is not supported by the emulator")
        return n.Select(
            tuple(items), source, where, group_by, having, tuple(order), limit, offset, distinct
        )

    def _count(self) -> int:
        if self.tok.kind != "number" or not self.tok.value.isdigit():
            self.fail("expected a non-negative integer")
        return int(self.advance().value)

    def _select_item(self) -> n.SelectItem:
        if self.tok.is_op("*"):
            self.advance()
            return n.SelectItem(n.Star(), None)
        expr = self.expression()
        alias = None
        if self.accept_word("AS"):
            if self.tok.kind not in ("qident", "ident", "string"):
                self.fail("expected an alias")
            alias = self.advance().value
        elif self.tok.kind == "qident" or (
            self.tok.kind == "ident" and self.tok.value.upper() not in RESERVED
        ):
            alias = self.advance().value
        return n.SelectItem(expr, alias)

    def _from(self) -> n.TableSource | n.ExternalSource:
        if self.tok.is_op("("):
            raise UnsupportedError("Subqueries are not supported by the emulator")
        if self.tok.is_word("TABLE") and self.peek().is_op("("):
            source = self._table_function()
        else:
            source = n.TableSource(self._table_name())  # type: ignore[assignment]
        # An alias is allowed and ignored (columns may be qualified with it).
        if self.accept_word("AS") or (
            self.tok.kind == "qident"
            or (self.tok.kind == "ident" and self.tok.value.upper() not in RESERVED)
        ):
            self.advance()
        return source

    def _table_function(self) -> n.ExternalSource:
        self.advance()
        self.expect_op("(")
        if not self.tok.is_word("POLARIS_SOURCE"):
            raise UnsupportedError(
                "Only TABLE(POLARIS_SOURCE('<source JSON>')) is supported as a table function"
            )
        self.advance()
        self.expect_op("(")
        if self.tok.kind != "string":
            self.fail("expected the source spec as a JSON string")
        text = self.advance().value
        self.expect_op(")")
        self.expect_op(")")
        if self.tok.is_word("EXTEND"):
            raise UnsupportedError("EXTEND is not supported; give inputSchema in POLARIS_SOURCE")
        try:
            spec = json.loads(text)
        except ValueError as exc:
            raise ExpressionError(f"POLARIS_SOURCE argument is not valid JSON: {exc}") from None
        if not isinstance(spec, dict):
            raise ExpressionError("POLARIS_SOURCE argument must be a JSON object")
        return n.ExternalSource(spec, text)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def parse_expression(text: str) -> n.Node:
    """Parse one standalone expression (a mapping or a filter)."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("Expression must be a non-empty string")
    parser = Parser(text)
    node = parser.expression()
    parser.expect_end()
    return node


def parse_statement(text: str) -> n.Select | n.Insert:
    """Parse one SQL statement."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("Query must be a non-empty string")
    return Parser(text).statement()
