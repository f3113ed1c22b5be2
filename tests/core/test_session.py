"""The Qt-free session: the state at step k is a pure function of the trace and k."""

from __future__ import annotations

import pytest
import torch

from gradstep.record.run import record_scenario
from gradstep.scenario.loader import scenario_from_source
from gradstep.session import Session

SOURCE = """\
import torch
x = torch.tensor(2.0, requires_grad=True)
y = x ** 2
y.backward()
y = x ** 2
y.backward()
x.grad.zero_()
"""


@pytest.fixture(scope="module")
def trace():
    return record_scenario(scenario_from_source(SOURCE, "accum.py"), trusted=True)


def test_variables_fold_the_deltas_so_stepping_back_is_exact(trace):
    s = Session(trace)
    grads = []
    for k in range(s.step_count):
        v = s.variables_at(k).get("x")
        grads.append(None if v is None else v.grad)
    # 4 after the first pass, 8 after the second, 0 after zero_()
    x = torch.tensor(2.0, requires_grad=True)
    (x**2).backward()
    first = x.grad.item()
    (x**2).backward()
    second = x.grad.item()
    assert first in grads and second in grads and grads[-1] == 0.0
    assert grads.index(first) < grads.index(second)
    # going back and forth gives the same states as computing them afresh
    s.last()
    states_forward = [s.state(k).variables for k in range(s.step_count)]
    for k in reversed(range(s.step_count)):
        s.go_to(k)
        assert s.state().variables == states_forward[k]


def test_node_status_and_edge_gradients_within_a_pass(trace):
    s = Session(trace)
    p = trace.passes[0]
    pow_rec = next(r for r in p.nodes if r.op == "PowBackward0")
    st = s.state(pow_rec.receive_step)
    assert st.node_status[pow_rec.node] == "received"
    st = s.state(pow_rec.compute_step)
    assert st.node_status[pow_rec.node] == "done"
    assert st.current_node == pow_rec.node
    assert st.active_edges and all(e[1] == pow_rec.node for e in st.active_edges)
    assert list(st.edge_grads.values()) == [pow_rec.grad_inputs[0]]
    leaf = next(r for r in p.nodes if r.op == "AccumulateGrad")
    assert s.state(pow_rec.compute_step).node_status[leaf.node] == "pending"


def test_nodes_appear_when_their_statement_runs(trace):
    s = Session(trace)
    for k in range(s.step_count):
        visible = s.state(k).visible_nodes
        for nid in visible:
            assert trace.nodes[nid].step <= k
    assert s.state(s.step_count - 1).visible_nodes == set(trace.nodes)


def test_cursor_moves_and_signals(trace):
    s = Session(trace)
    seen = []
    s.step_changed.connect(seen.append)
    s.step_forward()
    s.step_back()
    s.step_back()  # already at 0: no signal
    s.next_pass()
    assert s.index == trace.passes[0].first_step
    s.next_pass()
    assert s.index == trace.passes[1].first_step
    s.previous_pass()
    assert s.index == trace.passes[0].first_step
    s.last()
    assert s.index == s.step_count - 1
    assert seen[:2] == [1, 0]


def test_reload_keeps_the_place(trace):
    s = Session(trace)
    assert not s.reloaded
    s.go_to(5)
    s.set_trace(trace, keep_place=True)
    assert s.index == 5 and s.reloaded  # the graph panel keeps its boxes and layout
    s.set_trace(trace)
    assert s.index == 0 and not s.reloaded


def test_a_reload_of_an_edited_file_keeps_the_step_with_the_same_description(trace):
    from gradstep.session import place_in

    edited = record_scenario(
        scenario_from_source("import torch\nw = 1.0\n" + SOURCE.split("\n", 1)[1], "accum.py"),
        trusted=True,
    )
    k = next(i for i, st in enumerate(trace.steps) if st.kind == "compute")
    moved = place_in(trace, k, edited)
    assert edited.steps[moved].text == trace.steps[k].text and moved != k
    s = Session(trace)
    s.go_to(k)
    s.set_trace(edited, keep_place=True)
    assert s.index == moved


def test_the_state_is_computed_once_per_step_and_anew_for_a_new_trace(trace):
    s = Session(trace)
    s.go_to(3)
    assert s.state() is s.state(3)
    assert s.state(4) is not s.state(3) and s.state(3).index == 3
    first = s.state()
    s.set_trace(trace, keep_place=True)
    assert s.state() is not first and s.state().index == first.index


def test_record_at_is_the_latest_pass_begun_by_the_step(trace):
    s = Session(trace)
    leaf = next(n.id for n in trace.nodes.values() if n.kind == "leaf")
    assert s.record_at(leaf, 0) is None
    first, second = trace.passes[0], trace.passes[1]
    assert s.record_at(leaf, first.first_step) in first.nodes
    assert s.record_at(leaf, s.step_count - 1) in second.nodes


def test_node_keys_find_the_same_nodes_after_an_edit_above() -> None:
    from gradstep.record.run import record_scenario
    from gradstep.scenario.loader import scenario_from_source
    from gradstep.session import node_keys

    body = "x = torch.tensor(2.0, requires_grad=True)\ny = x * x\nz = (y * 3).sin()\nz.backward()\n"
    before = record_scenario(scenario_from_source("import torch\n" + body, "a.py"))
    edited = "import torch\nw = torch.ones(1, requires_grad=True) * 5\n" + body
    after = record_scenario(scenario_from_source(edited, "a.py"))
    old, new = node_keys(before), node_keys(after)
    assert len(set(old.values())) == len(old)  # one key per node
    by_key = {k: nid for nid, k in new.items()}
    for nid, key in old.items():
        a, b = before.nodes[nid], after.nodes[by_key[key]]
        assert (a.op, a.name) == (b.op, b.name)
    assert node_keys(before) == old  # the same trace, the same keys


LOOP = """\
import torch
w = torch.tensor([1.0, 2.0], requires_grad=True)
for i in range(3):
    h = w * (i + 1)
    loss = h.sum()
    loss.backward()
"""


def test_only_the_live_graph_is_drawn_in_a_loop():
    trace = record_scenario(scenario_from_source(LOOP, "loop.py"), trusted=True)
    s = Session(trace)
    leaf = next(n for n, node in trace.nodes.items() if node.kind == "leaf")
    # each iteration's own nodes: those of its pass, minus the shared leaf
    iterations = [{r.node for r in p.nodes} - {leaf} for p in trace.passes]
    assert len(iterations) == 3 and all(len(it) == 2 for it in iterations)
    for k, step in enumerate(trace.steps):
        hidden = s.hidden_at(k)
        assert leaf not in hidden  # w stays bound the whole time
        if step.pass_index is not None:  # inside pass i: only iteration i is drawn
            for j, nodes in enumerate(iterations):
                assert nodes.isdisjoint(hidden) if j == step.pass_index else nodes <= hidden
    # the next iteration is drawn where the last one was: its h replaces the old h when it
    # is made, while the old loss, still bound, stays until the new one is made
    old_h, old_loss = sorted(iterations[0], key=lambda n: trace.nodes[n].step)
    new_h, new_loss = sorted(iterations[1], key=lambda n: trace.nodes[n].step)
    third_h, third_loss = sorted(iterations[2], key=lambda n: trace.nodes[n].step)
    # every later iteration stands where the first one does
    assert s.folded == {new_h: old_h, new_loss: old_loss, third_h: old_h, third_loss: old_loss}
    made = trace.nodes[new_h].step
    hidden = s.hidden_at(made)
    assert old_h in hidden and new_h not in hidden
    assert old_loss not in hidden and new_loss in hidden  # not made yet: the old one stays
    assert old_loss in s.hidden_at(trace.nodes[new_loss].step)
    # the third iteration is beyond the look-ahead horizon until the second pass has ended
    assert iterations[2] <= s.hidden_at(trace.passes[0].first_step)


def test_a_single_graph_hides_nothing():
    source = "import torch\nx = torch.tensor(2.0, requires_grad=True)\ny = x**2\nz = y.sin()\nz.backward()\nprint(x.grad)\n"
    s = Session(record_scenario(scenario_from_source(source, "one.py"), trusted=True))
    assert all(not s.hidden_at(k) for k in range(s.step_count))


def test_a_rebound_variables_old_graph_is_gone(trace):
    s = Session(trace)
    first, second = s.trace.passes
    old = {r.node for r in first.nodes if r.op == "PowBackward0"}
    new = {r.node for r in second.nodes if r.op == "PowBackward0"}
    assert old and old.isdisjoint(s.hidden_at(first.last_step))
    assert old <= s.hidden_at(second.first_step)  # y was rebound: that graph is gone
    assert new.isdisjoint(s.hidden_at(second.first_step))


def test_a_branch_the_engine_skips_stays_drawn_while_its_pass_runs():
    source = (
        "import torch\na = torch.tensor(2.0, requires_grad=True)\n"
        "c = torch.tensor(3.0, requires_grad=True)\n"
        "g = torch.autograd.grad(((a * 2) * (c * 3)).sum(), [a])\n"
    )
    trace = record_scenario(scenario_from_source(source, "skip.py"), trusted=True)
    s = Session(trace)
    (bpass,) = trace.passes
    recorded = {r.node for r in bpass.nodes}
    skipped = set(trace.nodes) - recorded
    assert skipped  # c's branch: the engine does not run it for inputs=[a]
    for k in range(bpass.first_step, bpass.last_step + 1):
        assert skipped.isdisjoint(s.hidden_at(k)), k


BRANCHES = """\
import torch
x = torch.tensor([0.5, -1.5], requires_grad=True)
w = torch.tensor(3.0, requires_grad=True)
h = torch.sin(x) * w
h.retain_grad()
loss = (h**2).sum() + w
loss.backward()
print(x.grad)
"""


def test_stepping_by_node_visits_each_node_of_a_pass_once():
    trace = record_scenario(scenario_from_source(BRANCHES, "branches.py"), trusted=True)
    s = Session(trace)
    (bpass,) = trace.passes
    s.go_to(bpass.first_step)  # the pass's start is a stop of its own
    stops = []
    while True:
        s.next_node()
        if s.index > bpass.last_step:
            break
        stops.append(s.index)
    nodes = [r.node for r in bpass.nodes]
    assert len(nodes) >= 7
    assert [trace.steps[k].node for k in stops] == [  # each node once, in the engine's order
        r.node for r in sorted(bpass.nodes, key=lambda r: r.compute_step)
    ]
    assert {trace.steps[k].kind for k in stops} == {"compute", "accumulate"}
    # the receives and hooks were folded in: a press a node, not three
    assert bpass.last_step - bpass.first_step > 2 * len(nodes)
    assert trace.steps[s.index].kind == "statement"  # then on to the code after the pass
    back = []
    while s.index > bpass.first_step:
        s.previous_node()
        back.append(s.index)
    assert back == [*reversed(stops), bpass.first_step]
    # from a step between stops (a receive chosen in the timeline), the next node's step
    receive = next(st for st in trace.steps if st.kind == "receive")
    s.go_to(receive.index)
    s.next_node()
    assert trace.steps[s.index].node == receive.node
    assert trace.steps[s.index].kind in ("compute", "accumulate")
    s.last()
    s.next_node()
    assert s.index == s.step_count - 1
