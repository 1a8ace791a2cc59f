"""The localnet preset scales the VDF to the CPU share of each validator on one machine."""

from __future__ import annotations

from genesis.presets import localnet_params
from state.params import Params


def test_vdf_iterations_scale_with_the_cpu_share_of_a_localnet_validator() -> None:
    default = Params().vdf_iterations
    assert localnet_params(4, 2).vdf_iterations == default // 2
    assert localnet_params(1, 8).vdf_iterations == default  # never above the default
    assert localnet_params(100, 1).vdf_iterations == 1_000  # never below the floor
    assert localnet_params(4, 2).min_fee_uusd == Params().min_fee_uusd
