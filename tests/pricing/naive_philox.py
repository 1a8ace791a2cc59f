"""Slow, readable Philox4x32-10 on Python integers: the reference the Numba kernel is tested against."""

M0, M1 = 0xD2511F53, 0xCD9E8D57
W0, W1 = 0x9E3779B9, 0xBB67AE85
MASK = 0xFFFFFFFF


def philox4x32_10(counter: list[int], key: list[int], rounds: int = 10) -> list[int]:
    """Random123's Philox4x32: each round multiplies words 0 and 2, swaps and xors with the key."""
    x = list(counter)
    k0, k1 = key
    for _ in range(rounds):
        product0 = M0 * x[0]
        product1 = M1 * x[2]
        x = [
            (product1 >> 32) ^ x[1] ^ k0,
            product1 & MASK,
            (product0 >> 32) ^ x[3] ^ k1,
            product0 & MASK,
        ]
        k0 = (k0 + W0) & MASK
        k1 = (k1 + W1) & MASK
    return x
