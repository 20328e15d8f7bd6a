"""Joint names, skeleton and order conversions."""

import numpy as np
import pytest
import torch

from handoccnet_lite.hand import joints as J

DOC_INDEX = [0, 13, 14, 15, 16, 1, 2, 3, 17, 4, 5, 6, 18, 10, 11, 12, 19, 7, 8, 9, 20]


def test_canonical_order_matches_documented_index_list():
    assert list(J.MANO_TO_CANONICAL) == DOC_INDEX
    assert J.JOINT_NAMES[:5] == ("wrist", "thumb1", "thumb2", "thumb3", "thumb4")
    assert J.JOINT_NAMES[-1] == "pinky4" and len(J.JOINT_NAMES) == 21


def test_round_trips_tensor_and_array():
    x = torch.randn(4, 21, 3)
    assert torch.equal(J.canonical_to_mano(J.mano_to_canonical(x)), x)
    assert torch.equal(J.mano_to_canonical(J.canonical_to_mano(x)), x)
    a = np.random.default_rng(0).normal(size=(2, 5, 21, 2))
    np.testing.assert_array_equal(J.ho3d_to_canonical(J.canonical_to_ho3d(a)), a)


def test_conversion_moves_named_joints():
    x = torch.arange(21.0)[:, None].expand(21, 3)  # MANO order, value = MANO index
    c = J.mano_to_canonical(x)
    for i, name in enumerate(J.JOINT_NAMES):
        assert c[i, 0] == J.MANO_JOINT_NAMES.index(name)


def test_skeleton_is_a_tree_rooted_at_the_wrist():
    assert len(J.SKELETON) == 20
    children = [c for _, c in J.SKELETON]
    assert sorted(children) == list(range(1, 21))
    for p, c in J.SKELETON:  # parent precedes child and names share the finger
        assert p < c and (p == 0 or J.JOINT_NAMES[p][:-1] == J.JOINT_NAMES[c][:-1])
    # MANO parents agree with the canonical tree on the 16 kinematic joints
    for j, p in enumerate(J.MANO_PARENTS[1:], start=1):
        cj, cp = (
            J.JOINT_NAMES.index(J.MANO_KINEMATIC_NAMES[j]),
            J.JOINT_NAMES.index(J.MANO_KINEMATIC_NAMES[p]),
        )
        assert J.CANONICAL_PARENTS[cj] == cp


def test_wrong_joint_count_is_refused():
    with pytest.raises(ValueError, match=r"\(\.\.\., 21, C\)"):
        J.mano_to_canonical(torch.zeros(2, 16, 3))
