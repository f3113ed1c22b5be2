"""Each node's chain rule as a lecturer writes it on the board (no torch, no Qt).

The one description that the inspector, the graph's labels, captions, handouts
and ``gradstep trace`` print: see :func:`chain_rule` and :class:`ChainRule`.
"""

from gradstep.trace.chainrule.chain import (
    ChainLine,
    ChainRule,
    Contribution,
    chain_rule,
    chain_rule_at,
    compact_lines,
    consistent,
    constant_inputs,
    contributions,
    node_label,
    value_label,
)
from gradstep.trace.chainrule.numbers import show_number
from gradstep.trace.chainrule.progress import rule_as_of

__all__ = [
    "ChainLine",
    "ChainRule",
    "Contribution",
    "chain_rule",
    "chain_rule_at",
    "compact_lines",
    "consistent",
    "constant_inputs",
    "contributions",
    "node_label",
    "rule_as_of",
    "show_number",
    "value_label",
]
