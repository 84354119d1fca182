"""Reads an 8-bit RGB/RGBA PNG (what Chromium's --screenshot writes) with zlib and numpy only
(no PIL here) and prints: width height nonwhite colored blue, as fractions of the pixels.
nonwhite: any channel < 235; colored: a saturated pixel (max - min channel > 60), i.e. the
chart series, not the grey text and grid; blue: within 40 (sum of |difference|) of the first
series colour #1f77b4 = (31, 119, 180), which a wrong decoder would not produce."""
import struct
import sys
import zlib

import numpy as np


def read_png(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise SystemExit(f"{path}: not a PNG")
    pos, idat = 8, []
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
    if depth != 8 or interlace != 0 or ctype not in (2, 6):
        raise SystemExit(f"{path}: unsupported PNG (depth {depth}, colour type {ctype})")
    bpp = 3 if ctype == 2 else 4
    stride = w * bpp
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), dtype=np.uint8).reshape(h, 1 + stride)
    img = np.zeros((h, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.int64)
    for y in range(h):
        ft, line = raw[y, 0], raw[y, 1:].astype(np.int64)
        if ft == 0:
            cur = line
        elif ft == 1:  # Sub: a running sum per channel
            cur = np.cumsum(line.reshape(w, bpp), axis=0).reshape(-1) % 256
        elif ft == 2:  # Up
            cur = (line + prev) % 256
        else:  # Average, Paeth: sequential along the row
            cur_l, p, ln = [0] * stride, prev.tolist(), line.tolist()
            for i in range(stride):
                a = cur_l[i - bpp] if i >= bpp else 0
                b = p[i]
                if ft == 3:
                    cur_l[i] = (ln[i] + (a + b) // 2) & 255
                else:
                    c = p[i - bpp] if i >= bpp else 0
                    pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                    pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                    cur_l[i] = (ln[i] + pred) & 255
            cur = np.array(cur_l, dtype=np.int64)
        img[y] = cur
        prev = cur
    return img.reshape(h, w, bpp)[:, :, :3]


img = read_png(sys.argv[1]).astype(np.int64)
h, w, _ = img.shape
nonwhite = (img.min(axis=2) < 235).mean()
colored = ((img.max(axis=2) - img.min(axis=2)) > 60).mean()
blue = (np.abs(img - np.array([31, 119, 180])).sum(axis=2) < 40).mean()
print(w, h, f"{nonwhite:.4f}", f"{colored:.4f}", f"{blue:.4f}")
