#!/usr/bin/env python3
"""Verifies a trialgate checkpoint note as C2SP signed-note and tlog-checkpoint describe it,
with the `cryptography` package's Ed25519, independently of the Rust code.

Usage: verify_note.py NOTE_FILE KEY_NAME PUBLIC_KEY_BASE64
Prints {"origin", "size", "root"} as JSON and exits 0 when a signature line by KEY_NAME with
the key's id verifies over the note text; otherwise exits 1 saying what failed.
Other signature lines are skipped, as signed-note allows.
"""
import base64
import binascii
import hashlib
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def fail(message):
    print("REJECTED: " + message, file=sys.stderr)
    sys.exit(1)


def key_id(name, public_key):
    # signed-note: first 4 bytes of SHA-256(key name || 0x0A || signature type 0x01 || key)
    return hashlib.sha256(name.encode("utf-8") + b"\n" + b"\x01" + public_key).digest()[:4]


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    with open(sys.argv[1], "rb") as f:
        note = f.read().decode("utf-8")
    name = sys.argv[2]
    public_key = base64.b64decode(sys.argv[3], validate=True)
    if len(public_key) != 32:
        fail("public key is not 32 bytes")

    split = note.rfind("\n\n")
    if split < 0:
        fail("no blank line before the signatures")
    text, signatures = note[: split + 1], note[split + 2 :]
    if not signatures.endswith("\n"):
        fail("signature block does not end with a newline")

    wanted = key_id(name, public_key)
    ours = None
    for line in signatures[:-1].split("\n"):
        if not line.startswith("\u2014 "):
            fail(f"signature line {line!r} does not start with an em dash and a space")
        line_name, _, encoded = line[2:].partition(" ")
        try:
            blob = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            fail(f"signature line {line!r} is not base64")
        if line_name == name and blob[:4] == wanted and ours is None:
            ours = blob[4:]
    if ours is None:
        fail(f"no signature by {name} with key id {wanted.hex()}")
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(ours, text.encode("utf-8"))
    except InvalidSignature:
        fail(f"signature by {name} does not verify")

    lines = text[:-1].split("\n")
    if len(lines) < 3 or not lines[0]:
        fail("checkpoint needs an origin, a size and a root line")
    origin, size, root = lines[0], lines[1], lines[2]
    if not size.isdigit() or (size != "0" and size.startswith("0")):
        fail(f"size {size!r} is not a decimal number")
    try:
        root_bytes = base64.b64decode(root, validate=True)
    except binascii.Error:
        fail(f"root {root!r} is not base64")
    if len(root_bytes) != 32:
        fail(f"root is {len(root_bytes)} bytes, not 32")
    print(json.dumps({"origin": origin, "size": int(size), "root": root}))


if __name__ == "__main__":
    main()
