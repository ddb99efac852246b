"""Schemathesis hooks: protocol amendments are TOML (the whole protocol file as a string)."""

import schemathesis


@schemathesis.serializer("application/toml")
def toml(ctx, value):
    if isinstance(value, bytes):
        return value
    return str(value).encode("utf-8")
