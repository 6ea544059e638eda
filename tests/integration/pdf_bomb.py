"""A PDF compression bomb for test_pades.sh: a valid PDF 1.5 whose catalog
sits in an object stream (/FlateDecode) that inflates to MIB mebibytes of
spaces. qpdf must decode that stream to read the catalog, so reading the
file needs at least MIB MiB, while the file itself is about MIB KiB.

usage: pdf_bomb.py OUT.pdf MIB"""
import sys
import zlib


def bomb(mib):
    head = b"3 0 "
    catalog = b"<< /Type /Catalog /Pages 4 0 R >>"
    z = zlib.compressobj(9)
    parts = [z.compress(head + catalog)]
    chunk = b" " * (1 << 20)
    for _ in range(mib):
        parts.append(z.compress(chunk))
    parts.append(z.flush())
    data = b"".join(parts)

    out = bytearray(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}

    def obj(num, body):
        offsets[num] = len(out)
        out.extend(b"%d 0 obj\n" % num + body + b"\nendobj\n")

    obj(1, b"<< /Type /ObjStm /N 1 /First %d /Filter /FlateDecode "
        b"/Length %d >>\nstream\n" % (len(head), len(data)) + data +
        b"\nendstream")
    obj(4, b"<< /Type /Pages /Kids [5 0 R] /Count 1 >>")
    obj(5, b"<< /Type /Page /Parent 4 0 R /MediaBox [0 0 612 792] >>")
    xref = len(out)
    # Cross-reference stream, /W [1 4 2]: object 3 (the catalog) is the
    # first object of object stream 1.
    rows = [(0, 0, 65535), (1, offsets[1], 0), (0, 0, 0), (2, 1, 0),
            (1, offsets[4], 0), (1, offsets[5], 0), (1, xref, 0)]
    x = b"".join(bytes([t]) + a.to_bytes(4, "big") + b.to_bytes(2, "big")
                 for t, a, b in rows)
    out.extend(b"6 0 obj\n<< /Type /XRef /Size 7 /W [1 4 2] /Root 3 0 R "
               b"/Length %d >>\nstream\n" % len(x) + x +
               b"\nendstream\nendobj\n")
    out.extend(b"startxref\n%d\n%%%%EOF\n" % xref)
    return bytes(out)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1], "wb") as f:
        f.write(bomb(int(sys.argv[2])))
