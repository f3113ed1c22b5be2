"""Predict, then reveal: what quiz mode hides at each step, and the exercise's answers,
without Qt; PyTorch is the oracle for every answer."""

from __future__ import annotations

import pytest

from gradstep.plotting.labels import chain_lines
from gradstep.record.run import record_scenario
from gradstep.resources import bundled_scenarios
from gradstep.scenario.loader import load_scenario
from gradstep.session import Session
from gradstep.trace.chainrule import chain_rule_at
from gradstep.trace.quiz import HIDDEN, Quiz, answers, blanks_at, exercise_blanks
from oracles import torch_lesson05

LESSONS = {p.name[:2]: p for p in bundled_scenarios()}


@pytest.fixture(scope="module")
def lesson05():
    return record_scenario(load_scenario(LESSONS["05"]), trusted=True)


def test_a_compute_step_hides_its_outgoing_gradients_and_an_accumulate_step_the_grad(lesson05):
    trace = lesson05
    kinds = {k: s.kind for k, s in enumerate(trace.steps)}
    hidden = {k for k in kinds if blanks_at(trace, k)}
    backward = {k for k, kind in kinds.items() if kind in ("compute", "accumulate")}
    assert hidden == backward and len(hidden) == 6  # 4 ops compute, 2 leaves accumulate
    session = Session(trace)
    for k in sorted(hidden):
        b = blanks_at(trace, k)
        st = session.state(k)
        step = trace.steps[k]
        assert b.node == step.node
        # exactly the edges the step's node labels with its new gradients
        assert b.edges == {e for e in st.edge_grads if e[1] == step.node}
        assert b.grads == ({step.node} if step.kind == "accumulate" else set())
        rule = chain_rule_at(trace, step)
        assert rule is not None
        for line, blanked in zip(rule.lines, b.rule(rule).lines, strict=True):
            shown, blank = line.numbers(), blanked.numbers()
            assert blank.endswith(f"= {HIDDEN}") and not shown.endswith(HIDDEN)
            # the inputs of the product stay: the class computes the result from them
            assert blank.rsplit("=", 1)[0] == shown.rsplit("=", 1)[0].replace("≈", "=")
    assert not any(blanks_at(trace, k) for k in set(kinds) - backward)


def test_reveal_shows_one_step_and_stepping_on_hides_the_next(lesson05):
    trace = lesson05
    compute = [k for k, s in enumerate(trace.steps) if s.kind == "compute"]
    quiz = Quiz()
    assert not quiz.blanks(trace, compute[0])  # off: nothing hidden
    quiz.on = True
    assert quiz.blanks(trace, compute[0]) and quiz.blanks(trace, compute[1])
    quiz.reveal(compute[0])
    assert not quiz.blanks(trace, compute[0]) and quiz.blanks(trace, compute[1])
    quiz.reset()
    assert quiz.blanks(trace, compute[0])


def test_the_answers_are_the_gradients_torch_computes(lesson05):
    oracle = torch_lesson05()
    found = answers(lesson05)
    by_target = {a.target: a for a in found}
    assert [a.step for a in found] == sorted(a.step for a in found)
    assert set(by_target) == {"y_pred", "z", "w * x", "b", "w", "b.grad", "w.grad"}
    for target, value in oracle.items():
        a = by_target[target]
        assert a.raw == pytest.approx(value, rel=1e-5)
        assert float(a.value) == pytest.approx(value, rel=1e-3)  # as the app shows it
    assert float(by_target["w.grad"].value) == pytest.approx(oracle["w"], rel=1e-3)
    assert float(by_target["b.grad"].value) == pytest.approx(oracle["b"], rel=1e-3)


def test_the_exercise_hides_every_answer_on_every_later_page(lesson05):
    trace = lesson05
    found = answers(trace)
    last = max(k for k in range(len(trace.steps)) if trace.steps[k].pass_index is not None)
    b = exercise_blanks(trace, last)
    session = Session(trace)
    assert b.edges == set(session.state(last).edge_grads)  # every label of the pass
    assert b.grads == {
        n
        for n, node in trace.nodes.items()
        if node.kind == "leaf" and n in {rec.node for rec in trace.passes[0].nodes}
    }
    for k, step in enumerate(trace.steps):
        if step.kind not in ("compute", "accumulate"):
            continue
        text = " ".join(chain_lines(trace, step, blanks=exercise_blanks(trace, k)))
        root = step.node in trace.passes[0].roots
        numbers = text.split(":", 1)[1]
        assert HIDDEN in numbers
        for a in found:  # no answer so far, not even as the next node's upstream
            if a.step - 1 <= k:
                assert a.value not in numbers, f"step {k + 1} shows {a.value}: {text}"
        if not root:
            assert numbers.lstrip().startswith(HIDDEN) or "upstream" not in text
