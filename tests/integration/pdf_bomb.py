"""PDF compression bombs for test_pades.sh: a valid PDF 1.5 whose catalog
sits in an object stream (/FlateDecode) that inflates to MIB mebibytes of
spaces. qpdf must decode that stream to read the catalog, so reading the
file needs at least MIB MiB, while the file itself is about MIB KiB.

With STREAMS (default 1), the file holds that many such object streams,
each inflating to MIB MiB and holding one object of the document (the
first, the catalog): reading every object inflates each stream once, MIB
MiB at a time (the memory cap) but STREAMS times over (the CPU budget).

usage: pdf_bomb.py OUT.pdf MIB [STREAMS]
       pdf_bomb.py OUT.pdf deep LEVELS
       pdf_bomb.py OUT.pdf many OBJECTS

deep: a page tree of LEVELS nested /Pages nodes, one kid each, the last
holding the one page (qpdf 11.3 walks it by recursion, a level at a time:
50,000 levels overflowed its stack). Its objects sit in Flate object
streams of 1000, the xref stream compressed too, so 50,000 levels take
about 150 KB.

many: a classic PDF of OBJECTS small dictionaries (about 85 bytes each)
that the catalog does not use: qpdf keeps every object pkisign resolves,
about 2 KiB each, so 400,000 of them (33 MB) reach a memory cap of
hundreds of MiB while they are read."""
import sys
import zlib


def objstm(num, body, mib):
    """An object stream holding object num (body), padded to mib MiB.

    Its zlib stream is built, not compressed MiB by MiB (seconds for
    hundreds of MiB): each part is raw deflate from a compressor of its
    own, ended by a full flush (byte-aligned, not final, no reference to
    what came before), so one compressed MiB of spaces serves every MiB;
    then a final empty block and the Adler-32 of the whole. It inflates to
    the same bytes as compressing them in one go would."""
    head = b"%d 0 " % num

    def raw(data):
        z = zlib.compressobj(9, zlib.DEFLATED, -15)
        return z.compress(data) + z.flush(zlib.Z_FULL_FLUSH)

    chunk = b" " * (1 << 20)
    one = raw(chunk)
    adler = zlib.adler32(head + body)
    for _ in range(mib):
        adler = zlib.adler32(chunk, adler)
    last = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = (b"\x78\xda" + raw(head + body) + one * mib + last.flush() +
            adler.to_bytes(4, "big"))
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


def deep(levels):
    # 1: catalog, 2..1+L: the /Pages chain, 2+L: the page; then the
    # object streams, then the xref stream.
    bodies = {1: b"<< /Type /Catalog /Pages 2 0 R >>"}
    for k in range(levels):
        num = 2 + k
        parent = b" /Parent %d 0 R" % (num - 1) if k > 0 else b""
        bodies[num] = (b"<< /Type /Pages /Kids [%d 0 R] /Count 1%s >>" %
                       (num + 1, parent))
    page = 2 + levels
    bodies[page] = (b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] "
                    b">>" % (page - 1))
    nums = sorted(bodies)
    per = 1000
    groups = [nums[i:i + per] for i in range(0, len(nums), per)]
    out = bytearray(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
    first_stm = page + 1
    where = {}                      # object -> (stream, index)
    stm_off = {}
    for g, group in enumerate(groups):
        stm = first_stm + g
        head, data = [], bytearray()
        for i, num in enumerate(group):
            head.append(b"%d %d" % (num, len(data)))
            data.extend(bodies[num] + b"\n")
            where[num] = (stm, i)
        head = b" ".join(head) + b"\n"
        z = zlib.compress(head + bytes(data), 9)
        stm_off[stm] = len(out)
        out.extend(b"%d 0 obj\n<< /Type /ObjStm /N %d /First %d "
                   b"/Filter /FlateDecode /Length %d >>\nstream\n" %
                   (stm, len(group), len(head), len(z)) + z +
                   b"\nendstream\nendobj\n")
    xref_num = first_stm + len(groups)
    xref = len(out)
    rows = [(0, 0, 65535)]
    rows += [(2, where[n][0], where[n][1]) for n in nums]
    rows += [(1, stm_off[first_stm + g], 0) for g in range(len(groups))]
    rows += [(1, xref, 0)]
    x = zlib.compress(b"".join(bytes([t]) + a.to_bytes(4, "big") +
                               b.to_bytes(2, "big") for t, a, b in rows), 9)
    out.extend(b"%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Root 1 0 R "
               b"/Filter /FlateDecode /Length %d >>\nstream\n" %
               (xref_num, xref_num + 1, len(x)) + x +
               b"\nendstream\nendobj\n")
    out.extend(b"startxref\n%d\n%%%%EOF\n" % xref)
    return bytes(out)


def many(count):
    # 1: catalog, 2: pages, 3: page, 4..3+count: unused small objects.
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offs = []

    def obj(body):
        offs.append(len(out))
        out.extend(b"%d 0 obj\n" % len(offs) + body + b"\nendobj\n")

    obj(b"<< /Type /Catalog /Pages 2 0 R >>")
    obj(b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
    obj(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>")
    for k in range(count):
        obj(b"<< /K %d /A [1 2 3 4 5 6 7 8] /B (abcdefgh) >>" % k)
    xref = len(out)
    out.extend(b"xref\n0 %d\n0000000000 65535 f\r\n" % (len(offs) + 1))
    out.extend(b"".join(b"%010d 00000 n\r\n" % o for o in offs))
    out.extend(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n"
               b"%%%%EOF\n" % (len(offs) + 1, xref))
    return bytes(out)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[2] in ("deep", "many"):
        with open(sys.argv[1], "wb") as f:
            f.write((deep if sys.argv[2] == "deep" else many)(
                int(sys.argv[3])))
        sys.exit(0)
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    with open(sys.argv[1], "wb") as f:
        f.write(bomb(int(sys.argv[2]),
                     int(sys.argv[3]) if len(sys.argv) == 4 else 1))
