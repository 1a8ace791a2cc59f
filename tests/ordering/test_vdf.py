"""chiavdf prove/verify through chain.ordering: valid proofs verify, everything else is
False and never an exception."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chain import ordering
from tests.ordering.conftest import BITS, T

SEED = bytes(range(32))


@pytest.fixture(scope="module")
def output() -> ordering.VdfOutput:
    return ordering.prove(SEED, T, BITS)


def test_a_proof_verifies(output: ordering.VdfOutput) -> None:
    assert len(output.y) == len(output.proof) == ordering.FORM_BYTES
    assert ordering.verify(SEED, T, BITS, output.y, output.proof)


def test_changed_iterations_fail(output: ordering.VdfOutput) -> None:
    for iterations in (T - 1, T + 1, 2 * T, 1):
        assert not ordering.verify(SEED, iterations, BITS, output.y, output.proof)


def test_another_seed_fails(output: ordering.VdfOutput) -> None:
    other = bytes(32)
    assert not ordering.verify(other, T, BITS, output.y, output.proof)


def test_y_of_another_seed_fails(output: ordering.VdfOutput) -> None:
    other = ordering.prove(bytes(32), T, BITS)
    assert not ordering.verify(SEED, T, BITS, other.y, output.proof)
    assert not ordering.verify(SEED, T, BITS, other.y, other.proof)
    assert not ordering.verify(SEED, T, BITS, output.proof, output.y)


def test_every_single_bit_flip_of_y_or_proof_fails(output: ordering.VdfOutput) -> None:
    """Also shows y has one accepted encoding: a proposer cannot re-encode the output to
    get another order without running the VDF again."""
    for field in ("y", "proof"):
        value = getattr(output, field)
        for index in range(len(value)):
            for bit in range(8):
                flipped = bytearray(value)
                flipped[index] ^= 1 << bit
                y, proof = (bytes(flipped), output.proof) if field == "y" else \
                    (output.y, bytes(flipped))
                assert not ordering.verify(SEED, T, BITS, y, proof), (field, index, bit)


@pytest.mark.parametrize("y_len, proof_len", [(0, 100), (100, 0), (99, 100), (100, 101),
                                               (50, 50), (200, 0)])
def test_wrong_lengths_fail(output: ordering.VdfOutput, y_len: int, proof_len: int) -> None:
    blob = (output.y + output.proof) * 2
    assert not ordering.verify(SEED, T, BITS, blob[:y_len], blob[y_len:y_len + proof_len])


@pytest.mark.parametrize("args", [
    (None, T, BITS), ("seed", T, BITS), (SEED, 0, BITS), (SEED, -1, BITS),
    (SEED, 10**9, BITS), (SEED, T, 2048), (SEED, T, 1000), (SEED, T, 256), (SEED, "1", BITS),
])
def test_bad_arguments_fail_without_raising(output: ordering.VdfOutput, args: tuple) -> None:
    assert not ordering.verify(*args, output.y, output.proof)
    assert not ordering.verify(SEED, T, BITS, None, output.proof)  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None)
@given(st.binary(min_size=100, max_size=100), st.binary(min_size=100, max_size=100))
def test_random_forms_never_verify_nor_raise(y: bytes, proof: bytes) -> None:
    assert not ordering.verify(SEED, T, BITS, y, proof)


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=1, max_size=100), st.sampled_from(["y", "proof"]))
def test_garbage_prefixes_of_the_real_forms_fail(garbage: bytes, field: str) -> None:
    real = ordering.prove(SEED, T, BITS)
    value = garbage + getattr(real, field)[len(garbage):]
    if value == getattr(real, field):
        return
    y, proof = (value, real.proof) if field == "y" else (real.y, value)
    assert not ordering.verify(SEED, T, BITS, y, proof)


def test_prove_rejects_out_of_range_params() -> None:
    with pytest.raises(ValueError):
        ordering.prove(SEED, 0, BITS)
    with pytest.raises(ValueError):
        ordering.prove(SEED, T, 1025)


def test_background_job_gives_the_same_output(output: ordering.VdfOutput) -> None:
    job = ordering.ProveJob(SEED, T, BITS)
    assert job.result(timeout=120) == output
    assert job.done and job.matches(SEED, T, BITS)


def test_deadline_stops_a_long_evaluation() -> None:
    job = ordering.ProveJob(SEED, 50_000_000, BITS)  # minutes of work
    assert job.result(timeout=0.05) is None
    job.cancel()
    job._thread.join(timeout=60)  # chiavdf polls the keep-alive file and returns early
    assert not job._thread.is_alive()
    assert job.result() is None
    assert not Path(job._alive_path).exists()


def test_prove_with_a_missing_keep_alive_file_is_cancelled(tmp_path: Path) -> None:
    with pytest.raises(ordering.ProveCancelled):
        ordering.prove(SEED, 50_000_000, BITS, keep_alive_path=str(tmp_path / "gone"))


def test_a_job_not_done_by_the_timeout_gives_none_and_can_be_stopped() -> None:
    job = ordering.ProveJob(SEED, 50_000_000, BITS)
    assert job.result(0.05) is None
    job.cancel()
    assert job.result(5) is None and job.done


def test_a_job_done_in_time_gives_the_output_of_prove(output: ordering.VdfOutput) -> None:
    assert ordering.ProveJob(SEED, T, BITS).result(120) == output
