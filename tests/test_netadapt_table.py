"""search.LatencyTable: the rest of the network comes from the same run as its blocks."""

import pytest

from mobilecnn import search


def fake_table(load):
    """A table whose timer reports a block's MACs / 1e6 ms times the machine's current load
    factor ``load[0]``: a stand-in for TF Lite whose answers depend on when one asks."""
    calls = []

    def ms(net):
        return load[0] * sum(n.macs for n in net) / 1e6

    def many(nets):
        calls.append(tuple(nets))
        return {label: ms(net) for label, net in nets.items()}

    return search.LatencyTable(64, runs=1, measure=ms, measure_many=many), calls, ms


def test_rest_is_whole_minus_blocks_of_one_run():
    load = [1.0]
    table, calls, ms = fake_table(load)
    e = search.default_expansions()
    blocks = (1, 2, 3)
    whole = search.searched_net(e, 64)
    rest = table.calibrate(whole, e, blocks)
    assert calls == [("whole", 1, 2, 3)]                    # one interleaved run, all together
    block_ms = sum(ms(search.block_net(e, i, 64)) for i in blocks)
    assert rest == pytest.approx(ms(whole) - block_ms, rel=1e-12)
    # no load change: the model reproduces the whole network it was calibrated on
    assert table.model(e, blocks) == pytest.approx(ms(whole), rel=1e-12)


def test_check_compares_the_model_with_a_new_joint_run():
    load = [3.0]                                            # a busy machine while calibrating
    table, calls, _ = fake_table(load)
    e = search.default_expansions()
    whole = search.searched_net(e, 64)
    table.calibrate(whole, e, (1, 2))
    load[0] = 1.0                                           # idle by the end
    out = table.check(whole, e, (1, 2))
    # the model carries the calibration's load; the check shows it, three times the whole
    assert out["modelled_ms"] == pytest.approx(3 * out["whole_ms"], rel=1e-12)
    assert out["blocks_ms"] < out["whole_ms"]
    assert len(calls) == 2


def test_model_needs_calibration():
    table, _, _ = fake_table([1.0])
    with pytest.raises(ValueError, match="calibrate"):
        table.model(search.default_expansions(), (1,))
