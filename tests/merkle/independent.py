#!/usr/bin/env python3
"""A second, independent RFC 9162 section 2.1 implementation, to cross-check trialgate's.

Written from the RFC's recursive definitions (MTH, PATH, PROOF/SUBPROOF) over the leaf
inputs themselves (nonce || record bytes), using only hashlib and base64.

Usage: independent.py FILE, where FILE is the JSON that tests/merkle_independent.rs writes:
  {"leaves": [{"nonce": b64, "record": text, "leaf_hash": b64}, ...],
   "roots": [b64 root of the first n leaves, for n = 0, 1, ...],
   "inclusion": [{"index": m, "size": n, "proof": [b64, ...]}, ...],
   "consistency": [{"old": m, "new": n, "proof": [b64, ...]}, ...]}
Exits 0 if every value agrees, else 1 naming the first mismatch.
"""
import base64
import hashlib
import json
import sys


def sha256(data):
    return hashlib.sha256(data).digest()


def k_for(n):
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d):
    """MTH(D[n]) of a list of leaf inputs."""
    n = len(d)
    if n == 0:
        return sha256(b"")
    if n == 1:
        return sha256(b"\x00" + d[0])
    k = k_for(n)
    return sha256(b"\x01" + mth(d[:k]) + mth(d[k:]))


def path(m, d):
    """PATH(m, D[n])."""
    n = len(d)
    if n == 1:
        return []
    k = k_for(n)
    if m < k:
        return path(m, d[:k]) + [mth(d[k:])]
    return path(m - k, d[k:]) + [mth(d[:k])]


def subproof(m, d, b):
    """SUBPROOF(m, D[n], b)."""
    n = len(d)
    if m == n:
        return [] if b else [mth(d)]
    k = k_for(n)
    if m <= k:
        return subproof(m, d[:k], b) + [mth(d[k:])]
    return subproof(m - k, d[k:], False) + [mth(d[:k])]


def proof(m, d):
    """PROOF(m, D[n]); empty for m == 0 or m == n, where the RFC defines none."""
    if m == 0 or m == len(d):
        return []
    return subproof(m, d, True)


def b64(data):
    return base64.b64encode(data).decode("ascii")


def fail(message):
    print("MISMATCH: " + message, file=sys.stderr)
    sys.exit(1)


def compare_list(what, rust, ours):
    if len(rust) != len(ours):
        fail(f"{what}: Rust gave {len(rust)} hashes, the RFC definition gives {len(ours)}")
    for i, (r, o) in enumerate(zip(rust, ours)):
        if r != b64(o):
            fail(f"{what}: hash {i} is {r} from Rust, {b64(o)} by the RFC definition")


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    with open(sys.argv[1], encoding="utf-8") as f:
        data = json.load(f)

    inputs = []
    for i, leaf in enumerate(data["leaves"]):
        nonce = base64.b64decode(leaf["nonce"], validate=True)
        if len(nonce) != 32:
            fail(f"leaf {i}: nonce is {len(nonce)} bytes, not 32")
        leaf_input = nonce + leaf["record"].encode("utf-8")
        if leaf["leaf_hash"] != b64(sha256(b"\x00" + leaf_input)):
            fail(f"leaf {i}: leaf hash {leaf['leaf_hash']} from Rust differs")
        inputs.append(leaf_input)

    if len(data["roots"]) != len(inputs) + 1:
        fail(f"expected {len(inputs) + 1} roots, got {len(data['roots'])}")
    for n, root in enumerate(data["roots"]):
        if root != b64(mth(inputs[:n])):
            fail(f"root of size {n}: {root} from Rust, {b64(mth(inputs[:n]))} by MTH")

    for case in data["inclusion"]:
        m, n = case["index"], case["size"]
        compare_list(f"inclusion proof of leaf {m} in size {n}", case["proof"], path(m, inputs[:n]))

    for case in data["consistency"]:
        m, n = case["old"], case["new"]
        compare_list(f"consistency proof from size {m} to {n}", case["proof"], proof(m, inputs[:n]))

    print(
        f"independent RFC 9162 check: {len(inputs)} leaves, {len(data['roots'])} roots, "
        f"{len(data['inclusion'])} inclusion and {len(data['consistency'])} consistency proofs agree"
    )


if __name__ == "__main__":
    main()
