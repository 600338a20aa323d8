"""ShuffleNet v2's Table 5: two hypotheses fit the four printed complexities, and the figures
cannot choose between them (chapter 6 says so; pure Python)."""

import math

import mobilecnn
from mobilecnn.architectures import shufflenet_v2


def test_rounding_up_and_counting_the_pool_additions_both_fit_table_5():
    printed = {dict(f.settings)["scale"]: f.macs for f in shufflenet_v2.PUBLISHED
               if f.source.endswith("Table 5")}
    assert printed == {0.5: 41, 1.0: 146, 1.5: 299, 2.0: 591}
    tells = []
    for s, figure in printed.items():
        p = mobilecnn.profile("shufflenet_v2", scale=s, layout="paper")
        gap = next(r for r in p.layers if r.kind == "gap")
        assert gap.input_shape == (7, 7, 2048 if s == 2.0 else 1024)
        assert math.ceil(p.macs / 1e6) == figure                       # rounded up
        assert round((p.macs + math.prod(gap.input_shape)) / 1e6) == figure   # pool additions
        if round(p.macs / 1e6) != figure:
            tells.append(s)
    # only one figure tells rounding up from rounding to the nearest
    assert tells == [0.5]
