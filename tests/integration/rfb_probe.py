#!/usr/bin/env python3
"""An RFB (VNC) client just large enough for a test: the 3.8 handshake with no authentication,
then one full framebuffer update in raw encoding. Prints "<width>x<height> <bytes> <nonzero>"
(the framebuffer's size, the pixel bytes received, how many were not zero).
usage: rfb_probe.py HOST PORT [TIMEOUT_SECONDS]"""
import socket
import struct
import sys
import time


def read_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise SystemExit(f"rfb_probe: connection closed after {len(data)} of {n} bytes")
        data += chunk
    return data


def connect(host, port, timeout):
    deadline = time.time() + timeout
    while True:
        try:
            sock = socket.create_connection((host, port), timeout=10)
            version = read_exact(sock, 12)
            return sock, version
        except (OSError, SystemExit) as error:
            if time.time() > deadline:
                raise SystemExit(f"rfb_probe: no RFB server on {host}:{port}: {error}")
            time.sleep(0.5)


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 60
    sock, version = connect(host, port, timeout)
    if version != b"RFB 003.008\n":
        raise SystemExit(f"rfb_probe: server version {version!r}, expected RFB 003.008")
    sock.sendall(b"RFB 003.008\n")
    (count,) = struct.unpack("B", read_exact(sock, 1))
    types = read_exact(sock, count)
    if 1 not in types:
        raise SystemExit(f"rfb_probe: security types {list(types)} lack None (1)")
    sock.sendall(b"\x01")
    (result,) = struct.unpack(">I", read_exact(sock, 4))
    if result != 0:
        raise SystemExit(f"rfb_probe: security result {result}")
    sock.sendall(b"\x01")  # ClientInit: shared
    width, height = struct.unpack(">HH", read_exact(sock, 4))
    pixel_format = read_exact(sock, 16)
    bits_per_pixel = pixel_format[0]
    (name_length,) = struct.unpack(">I", read_exact(sock, 4))
    read_exact(sock, name_length)
    bytes_per_pixel = bits_per_pixel // 8
    # SetEncodings: raw only; then a full, non-incremental update request.
    sock.sendall(struct.pack(">BxHi", 2, 1, 0))
    sock.sendall(struct.pack(">BBHHHH", 3, 0, 0, 0, width, height))
    covered = received = nonzero = 0
    while covered < width * height:
        message_type = read_exact(sock, 1)[0]
        if message_type != 0:
            raise SystemExit(f"rfb_probe: unexpected server message {message_type}")
        (rectangles,) = struct.unpack(">xH", read_exact(sock, 3))
        for _ in range(rectangles):
            x, y, w, h, encoding = struct.unpack(">HHHHi", read_exact(sock, 12))
            if encoding != 0:
                raise SystemExit(f"rfb_probe: encoding {encoding}, asked for raw")
            pixels = read_exact(sock, w * h * bytes_per_pixel)
            covered += w * h
            received += len(pixels)
            nonzero += sum(1 for b in pixels if b)
    print(f"{width}x{height} {received} {nonzero}")


main()
