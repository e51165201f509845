#!/usr/bin/env python3
"""A producer's side of candystore's signed events, written independently of
candystore: RFC 8785 canonical JSON, HMAC-SHA256 (hmac) and Ed25519 (PyNaCl).
Used by t/signatures_interoperate_with_python_and_node.pl.

  jcs_sign.py canon                     stdin envelopes -> canonical forms
  jcs_sign.py sign ALG KEY_ID KEYHEX    stdin envelopes -> signed envelopes
                                        (KEYHEX: HMAC secret or Ed25519 seed)
  jcs_sign.py verify ALG KEYHEX         stdin envelopes -> valid | invalid
                                        (KEYHEX: HMAC secret or Ed25519 public key)
  jcs_sign.py pubkey SEEDHEX            the Ed25519 public key of a seed
One JSON document per line.
"""
import base64
import hashlib
import hmac
import json
import math
import sys

import nacl.exceptions
import nacl.signing


def es_number(x):
    """ECMAScript Number::toString of the double nearest x."""
    f = float(x)
    if not math.isfinite(f):
        raise ValueError("not a finite number")
    if f == 0:
        return "0"
    mantissa, _, exp = repr(abs(f)).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    point = len(whole) + (int(exp) if exp else 0)
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    digits = stripped.rstrip("0") or "0"
    k, n = len(digits), point
    if k <= n <= 21:
        s = digits + "0" * (n - k)
    elif 0 < n <= 21:
        s = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        s = "0." + "0" * -n + digits
    else:
        e = n - 1
        s = digits[0] + ("." + digits[1:] if k > 1 else "") + "e" + ("+" if e >= 0 else "-") + str(abs(e))
    return ("-" if f < 0 else "") + s


def canon(v):
    if v is None or isinstance(v, bool):
        return json.dumps(v)
    if isinstance(v, (int, float)):
        return es_number(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ",".join(canon(x) for x in v) + "]"
    keys = sorted(v, key=lambda k: k.encode("utf-16-be"))  # UTF-16 code units
    return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + canon(v[k]) for k in keys) + "}"


def signed_bytes(envelope):
    return canon({k: x for k, x in envelope.items() if k != "signature"}).encode("utf-8")


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def unb64url(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def main():
    mode = sys.argv[1]
    if mode == "pubkey":
        print(nacl.signing.SigningKey(bytes.fromhex(sys.argv[2])).verify_key.encode().hex())
        return
    for line in sys.stdin:
        if not line.strip():
            continue
        env = json.loads(line)
        if mode == "canon":
            print(canon(env))
        elif mode == "sign":
            alg, key_id, key = sys.argv[2], sys.argv[3], bytes.fromhex(sys.argv[4])
            msg = signed_bytes(env)
            if alg == "hmac-sha256":
                value = hmac.new(key, msg, hashlib.sha256).digest()
            else:
                value = nacl.signing.SigningKey(key).sign(msg).signature
            env["signature"] = {"alg": alg, "key_id": key_id, "value": b64url(value)}
            print(json.dumps(env, ensure_ascii=False))
        elif mode == "verify":
            alg, key = sys.argv[2], bytes.fromhex(sys.argv[3])
            sig, msg = env["signature"], signed_bytes(env)
            if sig["alg"] != alg:
                ok = False
            elif alg == "hmac-sha256":
                ok = hmac.compare_digest(hmac.new(key, msg, hashlib.sha256).digest(), unb64url(sig["value"]))
            else:
                try:
                    nacl.signing.VerifyKey(key).verify(msg, unb64url(sig["value"]))
                    ok = True
                except nacl.exceptions.BadSignatureError:
                    ok = False
            print("valid" if ok else "invalid")


main()
