#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/corpus/<target>/: small valid and near-valid inputs from
which libFuzzer mutates. Run from anywhere; rewrites the seed files it owns (the names below)
and leaves anything else in the corpus dirs alone."""
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- JSON: job lists and lease/status bodies ----
JOB = '{"id":"s1-p1","story_id":"s1","part_id":"p1","claim_url":"/api/render-jobs/s1-p1/claim","lease_seconds":120}'
put("job_list", "array", "[" + JOB + "]")
put("job_list", "object", '{"jobs":[' + JOB + '],"queue_depth":7}')
put("job_list", "empty", "[]")
put("job_list", "all_fields", '[{"id":"a","story_id":"b","part_id":"c","frames_dir":"stories/b/c/frames",'
    '"music_track":"x.mp3","lease_seconds":30,"render":{"fps":24,"preset":"fast","crf":20}}]')
put("job_list", "unsafe_ids", '[{"id":"../x","story_id":"s","part_id":"p"},{"id":"a/b","story_id":"s",'
    '"part_id":"p"},{"id":"j\\u0000","story_id":"s","part_id":"p"},{"story_id":"s"},42,null]')
put("job_list", "wrong_types", '{"jobs":[{"id":7,"story_id":true,"part_id":[],"render":"fast",'
    '"lease_seconds":-1,"frames_dir":{}}],"queue_depth":"many"}')
put("job_list", "header_depth", "3\n[]")  # odd length: the first bytes are the X-Queue-Depth header
put("job_list", "nulls", '{"jobs":[{"id":"j","story_id":"s","part_id":"p","claim_url":null,'
    '"render":null,"music_track":null}],"queue_depth":null}')

put("claim", "grant", '{"lease_expires_at":"2030-01-01T00:00:00Z","lease_token":"abc","lease_seconds":30}')
put("claim", "grant_offset", '{"lease_expires_at":"2026-11-28T21:50:37.25+02:00"}')
put("claim", "empty", "")
put("claim", "time", "2026-11-28T19:50:37.123456789Z")
put("claim", "lease_body", '{"worker":"w1","lease_token":"t"}')
put("claim", "status_rendered", '{"status":"rendered","artifact_path":"/output/s_p.mp4","bytes":10,'
    '"duration_ms":1000,"audio_track":"a.mp3","lease_token":"t"}')
put("claim", "status_errored", '{"status":"errored","error_class":"DecodeError","error_message":"x",'
    '"stderr_snippet":"y","timeout":true}')
put("claim", "create", '{"id":"j1","story_id":"s","part_id":"p","frames_dir":"a/b","music_track":"m.mp3",'
    '"render":{"fps":24},"lease_seconds":60}')

# ---- configuration: NUL-separated env values in config_fuzzer.cpp's kVars order ----
GOOD = ["5000", "2", "120", "40", "1800", "2", "30", "2G", "30", "worker-1", "first",
        "{story_id}_{part_id}.mp4", "0.0.0.0:9090", "/content", "/content/audio/music", "/output",
        "/tmp/renderer", "30", "192k", "medium", "23", "", "keyint=60", "3", "0", "1280x720",
        "67108864", "1"]
put("config", "good", "\0".join(GOOD))
put("config", "bytes", "2G")
put("config", "url", "https://user:pw@api.example.com:8443/base/?q=1#f")
put("config", "size", "1280x720")
put("config", "music", "named:track one.mp3")
put("config", "listen", "[::1]:9090")
put("config", "path", "/content/../etc")
put("config", "bitrate", "2.5M")
put("config", "negative", "\0".join(["-5", "0", "-1", "-1"]))


# ---- PNG ----
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(w, h, color, depth, rows, extra=b"", interlace=0, split=1):
    """rows: the filtered scanlines (filter byte + data), already in pass order if interlaced."""
    ihdr = struct.pack(">IIBBBBB", w, h, depth, color, 0, 0, interlace)
    z = zlib.compress(b"".join(rows), 9)
    step = max(1, (len(z) + split - 1) // split)
    idats = b"".join(chunk(b"IDAT", z[i:i + step]) for i in range(0, len(z), step))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra + idats + chunk(b"IEND", b"")


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def filtered(raw_rows, bpp, kinds):
    """Applies PNG filter kinds[y % len(kinds)] to each row."""
    out, prev = [], bytes(len(raw_rows[0]))
    for y, row in enumerate(raw_rows):
        k = kinds[y % len(kinds)]
        f = bytearray()
        for i, x in enumerate(row):
            a = row[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            pred = [0, a, b, (a + b) >> 1, paeth(a, b, c)][k]
            f.append((x - pred) & 0xFF)
        out.append(bytes([k]) + bytes(f))
        prev = row
    return out


def rgb_rows(w, h, ch):
    return [bytes(((x * 37 + y * 11 + c * 90) & 0xFF) for x in range(w) for c in range(ch)) for y in range(h)]


W, H = 7, 5
for flag in (0, 1):
    f = bytes([flag])
    put("png", f"rgb8_all_filters_{flag}", f + png(W, H, 2, 8, filtered(rgb_rows(W, H, 3), 3, [0, 1, 2, 3, 4])))
    put("png", f"rgba8_paeth_{flag}", f + png(W, H, 6, 8, filtered(rgb_rows(W, H, 4), 4, [4])))
put("png", "rgb8_split_idat", b"\0" + png(W, H, 2, 8, filtered(rgb_rows(W, H, 3), 3, [1]), split=4))
put("png", "gray8", b"\0" + png(W, H, 0, 8, filtered(rgb_rows(W, H, 1), 1, [2])))
put("png", "gray16", b"\0" + png(W, H, 0, 16, filtered(rgb_rows(W, H, 2), 2, [0])))
put("png", "gray_alpha", b"\0" + png(W, H, 4, 8, filtered(rgb_rows(W, H, 2), 2, [3])))
put("png", "rgb16", b"\0" + png(W, H, 2, 16, filtered(rgb_rows(W, H, 6), 6, [0])))
plte = chunk(b"PLTE", bytes([255, 0, 0, 0, 255, 0, 0, 0, 255])) + chunk(b"tRNS", bytes([255, 128, 0]))
put("png", "palette_trns", b"\0" + png(W, H, 3, 8, [b"\0" + bytes((x + y) % 3 for x in range(W)) for y in range(H)], plte))
put("png", "rgb8_trns", b"\0" + png(W, H, 2, 8, filtered(rgb_rows(W, H, 3), 3, [0]), chunk(b"tRNS", b"\0\x25\0\x30\0\x10")))


def adam7_rows(w, h, ch):
    """Filter-0 scanlines of each Adam7 pass, concatenated."""
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    full = rgb_rows(w, h, ch)
    rows = []
    for x0, y0, dx, dy in passes:
        for y in range(y0, h, dy):
            line = b"".join(full[y][x * ch:(x + 1) * ch] for x in range(x0, w, dx))
            if line:
                rows.append(b"\0" + line)
    return rows


put("png", "rgb8_interlaced", b"\0" + png(W, H, 2, 8, adam7_rows(W, H, 3), interlace=1))
put("png", "truncated", b"\0" + png(W, H, 2, 8, filtered(rgb_rows(W, H, 3), 3, [0]))[:40])
put("png", "huge_header", b"\0" + png(60000, 60000, 2, 8, [b"\0"]))

# ---- preflight: mode byte (0: the input is a frame, 1: the music track) + file ----
put("preflight", "frame_rgb8", b"\0" + png(W, H, 2, 8, filtered(rgb_rows(W, H, 3), 3, [0])))
put("preflight", "frame_interlaced", b"\0" + png(W, H, 2, 8, adam7_rows(W, H, 3), interlace=1))
put("preflight", "frame_huge", b"\0" + png(60000, 60000, 2, 8, [b"\0"]))
for name in ("tiny.mp3", "under_one_aac_frame.mp3", "mono_8k.mp3"):
    with open(os.path.join(ROOT, "testdata", "media", name), "rb") as f:
        put("preflight", "music_" + name.replace(".mp3", ""), b"\1" + f.read())
wav = b"RIFF" + struct.pack("<I", 36 + 8) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 2, 8000, 32000, 4, 16) + \
    b"data" + struct.pack("<I", 8) + b"\0" * 8
put("preflight", "music_wav", b"\1" + wav)
put("preflight", "music_id3_only", b"\1" + b"ID3\x03\0\0\0\0\0\x0bTIT2\0\0\0\x01\0\0\0")

# ---- tar: a frames archive (frames_url); fixed metadata so the seeds are the same every run ----
import io
import tarfile


def tar_of(members, fmt=tarfile.PAX_FORMAT):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for name, kind, data in members:
            info = tarfile.TarInfo(name)
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            info.type = kind
            if kind == tarfile.REGTYPE:
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
            else:
                info.linkname = data.decode() if data else ""
                t.addfile(info)
    return buf.getvalue()


frame = png(W, H, 2, 8, filtered(rgb_rows(W, H, 3), 3, [0]))
put("tar", "frames", tar_of([("frame_1.png", tarfile.REGTYPE, frame),
                             ("frame_2.png", tarfile.REGTYPE, frame)]))
put("tar", "dot_root_gnu", tar_of([("./", tarfile.DIRTYPE, b""), ("./a.png", tarfile.REGTYPE, frame)],
                                  tarfile.GNU_FORMAT))
put("tar", "traversal", tar_of([("a.png", tarfile.REGTYPE, b"x"), ("../b.png", tarfile.REGTYPE, b"x")]))
put("tar", "links", tar_of([("a.png", tarfile.REGTYPE, b"x"), ("b.png", tarfile.SYMTYPE, b"/etc/passwd"),
                            ("c.png", tarfile.LNKTYPE, b"a.png")]))
put("tar", "long_name_gnu", tar_of([("x" * 120 + ".png", tarfile.REGTYPE, b"x")],
                                   tarfile.GNU_FORMAT))
put("tar", "fifo_dir", tar_of([("d/", tarfile.DIRTYPE, b""), ("f.png", tarfile.FIFOTYPE, b"")]))
put("tar", "empty", b"\0" * 1024)
