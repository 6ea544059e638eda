"""PDF compression bombs for test_pades.sh: a valid PDF 1.5 whose catalog
sits in an object stream (/FlateDecode) that inflates to MIB mebibytes of
spaces. qpdf must decode that stream to read the catalog, so reading the
file needs at least MIB MiB, while the file itself is about MIB KiB.

With STREAMS (default 1), the file holds that many such object streams,
each inflating to MIB MiB and holding one object of the document (the
first, the catalog): reading every object inflates each stream once, MIB
MiB at a time (the memory cap) but STREAMS times over (the CPU budget).

usage: pdf_bomb.py OUT.pdf MIB [STREAMS]"""
import sys
import zlib


def objstm(num, body, mib):
    """An object stream holding object num (body), padded to mib MiB."""
    head = b"%d 0 " % num
    z = zlib.compressobj(9)
    parts = [z.compress(head + body)]
    chunk = b" " * (1 << 20)
    for _ in range(mib):
        parts.append(z.compress(chunk))
    parts.append(z.flush())
    data = b"".join(parts)
    return (b"<< /Type /ObjStm /N 1 /First %d /Filter /FlateDecode "
            b"/Length %d >>\nstream\n" % (len(head), len(data)) + data +
            b"\nendstream")


def bomb(mib, streams=1):
    # 1: catalog (in stream 4), 2: pages, 3: page, 4..3+S: object streams,
    # 4+S..2+2S: one integer each in streams 5..3+S, 3+2S: the xref stream.
    out = bytearray(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}

    def obj(num, body):
        offsets[num] = len(out)
        out.extend(b"%d 0 obj\n" % num + body + b"\nendobj\n")

    obj(2, b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
    obj(3, b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>")
    obj(4, objstm(1, b"<< /Type /Catalog /Pages 2 0 R >>", mib))
    for k in range(1, streams):
        obj(4 + k, objstm(3 + streams + k, b"%d" % k, mib))
    xref_num = 3 + 2 * streams
    xref = len(out)
    # /W [1 4 2]: type, offset or stream, generation or index.
    rows = [(0, 0, 65535), (2, 4, 0), (1, offsets[2], 0), (1, offsets[3], 0)]
    rows += [(1, offsets[4 + k], 0) for k in range(streams)]
    rows += [(2, 4 + k, 0) for k in range(1, streams)]
    rows += [(1, xref, 0)]
    x = b"".join(bytes([t]) + a.to_bytes(4, "big") + b.to_bytes(2, "big")
                 for t, a, b in rows)
    out.extend(b"%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Root 1 0 R "
               b"/Length %d >>\nstream\n" % (xref_num, xref_num + 1, len(x)) +
               x + b"\nendstream\nendobj\n")
    out.extend(b"startxref\n%d\n%%%%EOF\n" % xref)
    return bytes(out)


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    with open(sys.argv[1], "wb") as f:
        f.write(bomb(int(sys.argv[2]),
                     int(sys.argv[3]) if len(sys.argv) == 4 else 1))
