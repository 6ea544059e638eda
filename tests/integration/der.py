"""Just enough DER for the tests that craft requests no client sends
(test_ocsp.sh: nonces of odd lengths; test_tsa.sh: odd nonces)."""


def tlv(tag, body):
    """One tag-length-value, definite length."""
    n = len(body)
    if n < 128:
        enc = bytes([n])
    else:
        b = n.to_bytes((n.bit_length() + 7) // 8, "big")
        enc = bytes([0x80 | len(b)]) + b
    return bytes([tag]) + enc + body


def content(der):
    """The value octets of the first TLV of der."""
    n, i = der[1], 2
    if n & 0x80:
        k = n & 0x7F
        n, i = int.from_bytes(der[2:2 + k], "big"), 2 + k
    return der[i:i + n]
