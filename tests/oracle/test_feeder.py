"""Price feeders: sim walks agree across nodes with the same seed, file and http sources,
staleness means abstaining, and the http source falls back to its last good answer."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from chain.oracle.extension import Observation
from chain.oracle.feeder import (
    Feeder,
    FileSource,
    HttpSource,
    OracleConfig,
    SimSource,
    make_feeder,
    usd_to_ticks,
)

UNDERLYINGS = ("BTC", "ETH")


def test_prices_become_micro_usd_ticks_rounded_half_up() -> None:
    assert usd_to_ticks("97123.5") == 97_123_500_000
    assert usd_to_ticks("0.0000005") == 1
    assert usd_to_ticks(3000) == 3_000_000_000
    assert [usd_to_ticks(v) for v in ("0", "-1", "nan", "inf", True, "abc")] == [None] * 6


def test_sim_nodes_with_the_same_seed_follow_one_walk_skewed_by_their_bias() -> None:
    base = SimSource(OracleConfig(source="sim", sim_seed=3)).read(1_000_000.0)
    same = SimSource(OracleConfig(source="sim", sim_seed=3)).read(1_000_000.0)
    skewed = SimSource(OracleConfig(source="sim", sim_seed=3, sim_bias_ppm=1_000)).read(1_000_000.0)
    assert base == same
    for name in ("BTC", "ETH"):
        assert skewed[name][0] > base[name][0]
        assert abs(skewed[name][0] - base[name][0]) * 1_000 < base[name][0] * 2
    later = SimSource(OracleConfig(source="sim", sim_seed=3)).read(1_000_100.0)
    assert later != base  # it moves


def test_a_feeder_abstains_for_stale_and_unknown_underlyings(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({
        "BTC": {"price": "97000", "time": 1_000.0},
        "ETH": {"price": "3100.25", "time": 990.0},  # 10.5 s old at t=1000.5
        "DOGE": "0.1",
    }))
    feeder = Feeder(FileSource(path), max_age_s=10.0, clock=lambda: 1_000.5)
    assert feeder.observe(UNDERLYINGS) == Observation(((0, 97_000_000_000),))


def test_file_prices_without_times_are_as_fresh_as_the_file(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"ETH": "3100.25"}))
    os.utime(path, (5_000.0, 5_000.0))
    assert Feeder(FileSource(path), max_age_s=10, clock=lambda: 5_009.0).observe(UNDERLYINGS) \
        == Observation(((1, 3_100_250_000),))
    assert Feeder(FileSource(path), max_age_s=10, clock=lambda: 5_011.0).observe(UNDERLYINGS) \
        == Observation()


def test_a_missing_or_broken_file_means_abstaining(tmp_path: Path) -> None:
    feeder = Feeder(FileSource(tmp_path / "nope.json"), max_age_s=10)
    assert feeder.observe(UNDERLYINGS) == Observation()
    (tmp_path / "bad.json").write_text("{not json")
    assert Feeder(FileSource(tmp_path / "bad.json"), max_age_s=10).observe(UNDERLYINGS) \
        == Observation()


class _Endpoint(BaseHTTPRequestHandler):
    body = b"{}"
    status = 200

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        self.send_response(type(self).status)
        self.end_headers()
        self.wfile.write(type(self).body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def endpoint() -> Iterator[tuple[str, type[_Endpoint]]]:
    handler = type("Handler", (_Endpoint,), {})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/prices", handler
    server.shutdown()
    server.server_close()


def test_http_source_keeps_the_last_good_prices_until_they_go_stale(
    endpoint: tuple[str, type[_Endpoint]],
) -> None:
    url, handler = endpoint
    now = [100.0]
    source = HttpSource(url, timeout_s=1.0, poll_s=60.0, clock=lambda: now[0])
    feeder = Feeder(source, max_age_s=5.0, clock=lambda: now[0])
    handler.body = json.dumps({"BTC": "95000", "ETH": "3000"}).encode()
    source.poll_once()
    assert feeder.observe(UNDERLYINGS) == Observation(((0, 95_000_000_000), (1, 3_000_000_000)))
    handler.status, handler.body = 500, b"oops"
    now[0] = 103.0
    source.poll_once()  # failed poll: last good prices still used
    assert feeder.observe(UNDERLYINGS) == Observation(((0, 95_000_000_000), (1, 3_000_000_000)))
    handler.status, handler.body = 200, json.dumps({"BTC": "96000"}).encode()
    source.poll_once()  # only BTC refreshed
    now[0] = 106.0  # ETH from t=100 is now 6 s old
    assert feeder.observe(UNDERLYINGS) == Observation(((0, 96_000_000_000),))


def test_http_source_times_out_instead_of_hanging() -> None:
    import socket

    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/"
        source = HttpSource(url, timeout_s=0.2, poll_s=60.0)
        source.poll_once()
        assert source.read(0.0) == {}


def test_config_rejects_unknown_keys_and_incomplete_sources() -> None:
    with pytest.raises(ValueError, match="unknown"):
        OracleConfig.from_mapping({"sorce": "sim"})
    with pytest.raises(ValueError, match="file_path"):
        OracleConfig.from_mapping({"source": "file"})
    assert make_feeder(OracleConfig()).observe(UNDERLYINGS) == Observation()


def test_node_config_reads_the_oracle_section_of_app_toml(tmp_path: Path) -> None:
    from chain.node import load_config
    from localnet.config import app_toml, localnet_oracle

    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "app.toml").write_text(app_toml(26658, oracle=localnet_oracle(1)))
    config = load_config(tmp_path)
    assert config.oracle.source == "sim" and config.oracle.sim_bias_ppm == -200
    (tmp_path / "config" / "app.toml").write_text(
        app_toml(26658, oracle={"source": "sim", "bogus": 1}))
    with pytest.raises(ValueError, match="bogus"):
        load_config(tmp_path)
