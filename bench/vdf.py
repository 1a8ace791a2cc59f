"""VDF ordering cost per block: chiavdf prove and verify at T, 2T and 4T, and the latency the
ordering adds to PrepareProposal (seed + prove + order) and ProcessProposal (seed + verify +
order check) for a block of user txs. Also reports the squaring rate, the block interval of a
running localnet, and the T the tuning rule of docs/ordering.md gives on this machine.

    .venv/bin/python bench/vdf.py --quick          # < 2 minutes (usually 5–15 s)
    .venv/bin/python bench/vdf.py --rpc http://127.0.0.1:26657

The last line is one JSON object (keys in bench/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chain import ordering  # noqa: E402
from chain.rpc import RPCClient, RPCError  # noqa: E402
from state.params import DEFAULT_PARAMS  # noqa: E402

PROVE_SHARE = 0.20
"""Tuning rule: proving may take at most this share of the block interval."""
RECORDED_BLOCK_INTERVAL_S = 0.61
"""Mean interval of 200 blocks of a 4-validator localnet on this machine (docs/ordering.md),
used when no node answers on --rpc."""


def _median_time(fn, reps: int) -> tuple[float, float]:
    """Median wall seconds and median CPU seconds of `fn()` over `reps` calls."""
    walls, cpus = [], []
    for rep in range(reps):
        c0, w0 = time.process_time(), time.perf_counter()
        fn(rep)
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus)


def _seed(tag: str, rep: int) -> bytes:
    return ordering.compute_seed("bench", 1 + rep, tag.encode().ljust(32, b"\0"), [])


def _block_interval(rpc_url: str, blocks: int) -> tuple[float, str]:
    try:
        rpc = RPCClient(rpc_url, timeout=3)
        top = rpc.status().latest_height
        times: dict[int, str] = {}
        high = top
        while high > max(1, top - blocks):
            res = rpc.call("blockchain", minHeight=str(max(1, high - 19)), maxHeight=str(high))
            for meta in res["block_metas"]:
                times[int(meta["header"]["height"])] = meta["header"]["time"]
            high -= 20
    except (RPCError, OSError, KeyError, ValueError):
        return RECORDED_BLOCK_INTERVAL_S, "recorded (docs/ordering.md)"
    heights = sorted(times)
    if len(heights) < 3:
        return RECORDED_BLOCK_INTERVAL_S, "recorded (docs/ordering.md)"

    def seconds(text: str) -> float:
        whole, _, frac = text.rstrip("Z").partition(".")
        return datetime.fromisoformat(whole + "+00:00").timestamp() + float("0." + (frac or "0"))

    span = seconds(times[heights[-1]]) - seconds(times[heights[0]])
    return span / (heights[-1] - heights[0]), f"{rpc_url} heights {heights[0]}-{heights[-1]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (< 2 minutes)")
    parser.add_argument("--iterations", type=int, default=DEFAULT_PARAMS.vdf_iterations,
                        help="T to measure (default: the genesis default)")
    parser.add_argument("--bits", type=int, default=DEFAULT_PARAMS.vdf_discriminant_bits)
    parser.add_argument("--txs", type=int, default=1000, help="user txs per block")
    parser.add_argument("--tx-bytes", type=int, default=250, help="size of each user tx")
    parser.add_argument("--rpc", default="http://127.0.0.1:26657",
                        help="CometBFT RPC of a running localnet, for the block interval")
    args = parser.parse_args()
    reps = 5 if args.quick else 15
    t, bits = args.iterations, args.bits

    print(f"VDF ordering benchmark: T={t}, discriminant {bits} bits, {reps} runs each "
          f"(median), load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")

    def discriminant(rep: int) -> None:
        ordering._discriminant.cache_clear()
        ordering._discriminant(_seed("disc", rep), bits)

    disc_s, _ = _median_time(discriminant, reps)
    print(f"  discriminant from seed        {disc_s * 1e3:8.1f} ms")

    rows: dict[int, dict[str, float]] = {}
    for mult in (1, 2, 4):
        iters = t * mult
        outputs: dict[int, ordering.VdfOutput] = {}

        def prove(rep: int) -> None:
            outputs[rep] = ordering.prove(_seed(f"T{mult}", rep), iters, bits)

        prove_s, prove_cpu = _median_time(prove, reps)

        def verify_cold(rep: int) -> None:
            ordering._discriminant.cache_clear()
            out = outputs[rep]
            assert ordering.verify(_seed(f"T{mult}", rep), iters, bits, out.y, out.proof)

        def verify_warm(rep: int) -> None:
            out = outputs[rep]
            assert ordering.verify(_seed(f"T{mult}", rep), iters, bits, out.y, out.proof)

        verify_s, _ = _median_time(verify_cold, reps)
        verify_warm(0)
        warm_s, _ = _median_time(lambda rep: verify_warm(0), reps)
        rows[mult] = {"iters": iters, "prove_s": prove_s, "prove_cpu_s": prove_cpu,
                      "verify_ms": verify_s * 1e3, "verify_warm_ms": warm_s * 1e3}
        print(f"  {mult}T = {iters:>8}: prove {prove_s:7.3f} s (cpu {prove_cpu:6.3f} s, "
              f"{iters / prove_s:9.0f} it/s)  verify {verify_s * 1e3:6.1f} ms "
              f"(discriminant cached: {warm_s * 1e3:5.2f} ms)")

    # Squaring rate of one core without the fixed per-proof costs (discriminant, proof):
    # the slope of CPU time between 4T and T. CPU time, not wall time, so that other
    # processes on the shared cores do not change the figure the rule uses.
    slope = (rows[4]["prove_cpu_s"] - rows[1]["prove_cpu_s"]) / (3 * t)
    ips = 1 / slope if slope > 0 else rows[4]["iters"] / rows[4]["prove_cpu_s"]
    fixed_s = max(0.0, rows[1]["prove_cpu_s"] - t / ips)
    print(f"  squaring rate (CPU, 4T-T)     {ips:8.0f} it/s; fixed cost per proof "
          f"{fixed_s * 1e3:.0f} ms")

    rnd = random.Random(7)
    txs = [b"\x0a" + rnd.randbytes(args.tx_bytes - 1) for _ in range(args.txs)]
    blocks: dict[int, list[bytes]] = {}

    def prepare(rep: int) -> None:
        order = ordering.prepare_block_order(
            txs, chain_id="bench", height=100 + rep, prev_app_hash=bytes(32),
            iterations=t, discriminant_bits=bits)
        blocks[rep] = order.txs()

    prepare_s, _ = _median_time(prepare, reps)

    def process(rep: int) -> None:
        ordering._discriminant.cache_clear()
        ordering.check_block_order(blocks[rep], chain_id="bench", height=100 + rep,
                                   prev_app_hash=bytes(32), iterations=t,
                                   discriminant_bits=bits)

    process_s, _ = _median_time(process, reps)
    order_only_s, _ = _median_time(lambda rep: ordering.order_txs(bytes(100), txs), reps)
    print(f"  PrepareProposal, {args.txs} txs   {prepare_s * 1e3:8.1f} ms "
          "(seed + prove + order + encode)")
    print(f"  ProcessProposal, {args.txs} txs   {process_s * 1e3:8.1f} ms "
          "(seed + verify with cold discriminant + order check)")
    print(f"  ordering {args.txs} txs alone       {order_only_s * 1e3:8.2f} ms")

    interval_s, source = _block_interval(args.rpc, 200)
    share = rows[1]["prove_s"] / interval_s
    share_cpu = rows[1]["prove_cpu_s"] / interval_s
    # Rule (docs/ordering.md): fixed + T / ips <= PROVE_SHARE x block interval.
    recommended = max(1, int((PROVE_SHARE * interval_s - fixed_s) * ips) // 1000 * 1000)
    print(f"  block interval                {interval_s:8.3f} s ({source})")
    print(f"  prove share of block at T     {share_cpu * 100:8.1f} % CPU, {share * 100:.1f} % wall"
          f"  (rule: <= {PROVE_SHARE * 100:.0f}% gives T <= {recommended})")

    print(json.dumps({
        "vdf_T": t,
        "vdf_discriminant_bits": bits,
        "iterations_per_s": round(ips),
        "prove_fixed_ms": round(fixed_s * 1e3, 1),
        "discriminant_ms": round(disc_s * 1e3, 2),
        "prove_s": round(rows[1]["prove_s"], 4),
        "prove_2T_s": round(rows[2]["prove_s"], 4),
        "prove_4T_s": round(rows[4]["prove_s"], 4),
        "verify_ms": round(rows[1]["verify_ms"], 2),
        "verify_2T_ms": round(rows[2]["verify_ms"], 2),
        "verify_4T_ms": round(rows[4]["verify_ms"], 2),
        "verify_warm_ms": round(rows[1]["verify_warm_ms"], 3),
        "n_txs": args.txs,
        "prepare_ms": round(prepare_s * 1e3, 1),
        "process_ms": round(process_s * 1e3, 1),
        "order_ms": round(order_only_s * 1e3, 2),
        "block_interval_s": round(interval_s, 3),
        "block_interval_source": source,
        "prove_cpu_s": round(rows[1]["prove_cpu_s"], 4),
        "prove_share_of_block": round(share, 3),
        "prove_cpu_share_of_block": round(share_cpu, 3),
        "recommended_T": recommended,
        "runs": reps,
        "load_average": round(os.getloadavg()[0], 2),
    }))


if __name__ == "__main__":
    main()
