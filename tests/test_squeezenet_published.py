"""SqueezeNet's published figures beside the library's: Table 3, Figure 3's sizes, other papers."""

import mobilecnn
from mobilecnn.architectures import squeezenet


def test_table3_is_the_bypass_table_and_table4_is_gone():
    assert set(squeezenet.TABLE3) == {"none", "simple", "complex"}
    assert not hasattr(squeezenet, "TABLE4")
    sources = {f.label: f.source for f in squeezenet.PUBLISHED}
    assert sources["SqueezeNet 1.0 + simple bypass"].endswith("Table 3")
    assert all("Table 4" not in s for s in sources.values())


def test_table1_prints_224_but_its_rows_need_227():
    assert squeezenet.TABLE1_PRINTED_INPUT == (224, 224, 3)
    conv1 = squeezenet.TABLE1[0]
    assert conv1.layer == "conv1" and conv1.output[:2] == (111, 111)
    at = {size: next(r for r in mobilecnn.profile("squeezenet", image_size=size).layers
                     if r.name == "conv1").output_shape[0] for size in (224, 227)}
    assert at == {224: 109, 227: 111}


def test_figure3_sizes_against_the_library():
    """4.8 and 13 MB are the library's size in MiB, 19 MB in 10^6 bytes: the labels do not use
    one unit (or are rounded loosely); the chapter shows both."""
    mib, mb = {}, {}
    for (sr, pct), printed in squeezenet.FIGURE3_MB.items():
        p = mobilecnn.profile("squeezenet", SR=sr, pct3x3=pct)
        mib[sr], mb[sr] = 4 * p.params / 2**20, 4 * p.params / 1e6
    assert round(mib[0.125], 1) == 4.8 and round(mb[0.125], 1) == 5.0
    assert round(mib[0.5]) == 13 and round(mb[0.5]) == 14
    assert round(mib[0.75]) == 18 and round(mb[0.75]) == 19


def test_other_papers_count_833_million_and_about_twice_that():
    macs = mobilecnn.profile("squeezenet").macs / 1e6          # 227 px, version 1.0
    assert round(macs) == squeezenet.OTHER_PAPERS_MMACS["ShuffleNet v1, Table 6"]
    # MobileNet v1's 1700: twice the library's count, to the two significant digits printed
    assert round(2 * macs, -2) == squeezenet.OTHER_PAPERS_MMACS["MobileNet v1, Table 9"]
