# KYC request bodies for the integration tests: an e-KTP PNG (96x64) and a
# JPEG selfie (64x64), made with python3's standard library.
import base64, json, struct, sys, zlib
def png(w, h, seed):
    def chunk(t, d):
        return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d))
    raw = b''.join(b'\x00' + bytes((x * 7 + y * 3 + seed) & 0xff for x in range(w * 3)) for y in range(h))
    return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0))
            + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))
def jpeg(w=64, h=64):
    # A baseline grey JPEG (ITU-T T.81) of w x h pixels: DC and AC tables
    # of one 1-bit code each (DC category 0, EOB); each 8x8 block is the
    # bits "00", the last byte padded with 1s. rad refuses a side under
    # 64 px (policy kyc.image_min_side_px).
    q = b'\xff\xdb\x00\x43\x00' + b'\x01' * 64
    sof = (b'\xff\xc0\x00\x0b\x08' + h.to_bytes(2, 'big') + w.to_bytes(2, 'big')
           + b'\x01\x01\x11\x00')
    dht = lambda tc: b'\xff\xc4\x00\x14' + bytes([tc]) + b'\x01' + b'\x00' * 15 + b'\x00'
    sos = b'\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00'
    app0 = b'\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00'
    bits = 2 * ((w + 7) // 8) * ((h + 7) // 8)
    scan = b'\x00' * (bits // 8) + (bytes([0xff >> bits % 8]) if bits % 8 else b'')
    return b'\xff\xd8' + app0 + q + sof + dht(0x00) + dht(0x10) + sos + scan + b'\xff\xd9'
# kyc_body.py OUT NAME DOB SEX SERIAL [COMPANY_ID]: writes OUT (and OUT.ktp.png); prints the NIK
# Other tests import png() and jpeg() (PYTHONPATH=tests/integration).
if __name__ == '__main__':
    out, name, dob, sex, serial = sys.argv[1:6]
    y, m, d = (int(x) for x in dob.split('-'))
    nik = '317401%02d%02d%02d%s' % (d + (40 if sex == 'F' else 0), m, y % 100, serial)
    ktp = png(96, 64, int(serial) & 0xff)
    open(out + '.ktp.png', 'wb').write(ktp)
    b = {'nik': nik, 'full_name': name, 'birth_place': 'Jakarta', 'birth_date': dob, 'sex': sex,
         'address': 'Jl. Merdeka Barat No. 9, Jakarta Pusat',
         'consents': {'privacy_policy': '1.0', 'subscriber_agreement': '1.0', 'guarantee_policy': '1.0'},
         'ktp_photo': base64.b64encode(ktp).decode(), 'selfie': base64.b64encode(jpeg()).decode()}
    if len(sys.argv) > 6:
        b['company_id'] = int(sys.argv[6])
    open(out, 'w').write(json.dumps(b))
    print(nik)
