#!/usr/bin/env python3
"""Prints what an FFmpeg build holds, one line: its encoders, decoders, demuxers, muxers, parsers
(named by their first codec) and input protocols, each sorted, e.g.
  encoders aac libsvtav1 libx264 libx265; decoders mp3 mp3float; demuxers ...; protocols file
It loads the libraries in DIR (libavutil, libswresample, libavcodec, libavformat of one build)
with ctypes and walks FFmpeg's own iterators, so it reads the build as the renderer links it.
infra/test-image.sh runs it on the image's minimal FFmpeg (the image has no Python)."""
import ctypes
import glob
import sys


def load(directory, stem):
    matches = sorted(glob.glob(f"{directory}/{stem}.so.[0-9]*"), key=len)
    if not matches:
        sys.exit(f"ffmpeg_components: no {stem}.so.N in {directory}")
    return ctypes.CDLL(matches[0], mode=ctypes.RTLD_GLOBAL)


def main():
    directory = sys.argv[1]
    load(directory, "libavutil")
    load(directory, "libswresample")
    codec = load(directory, "libavcodec")
    fmt = load(directory, "libavformat")

    def walk(lib, function):
        f = getattr(lib, function)
        f.restype = ctypes.c_void_p
        f.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
        opaque, out = ctypes.c_void_p(0), []
        while True:
            item = f(ctypes.byref(opaque))
            if not item:
                return out
            out.append(item)

    # Every AVCodec, AVInputFormat and AVOutputFormat starts with `const char *name`.
    name = lambda p: ctypes.cast(p, ctypes.POINTER(ctypes.c_char_p))[0].decode()
    codec.av_codec_is_encoder.argtypes = [ctypes.c_void_p]
    codecs = walk(codec, "av_codec_iterate")
    encoders = sorted(name(c) for c in codecs if codec.av_codec_is_encoder(c))
    decoders = sorted(name(c) for c in codecs if not codec.av_codec_is_encoder(c))
    # AVCodecParser starts with `int codec_ids[7]`; a parser is named by its first codec.
    codec.avcodec_get_name.restype = ctypes.c_char_p
    parsers = sorted(codec.avcodec_get_name(ctypes.cast(p, ctypes.POINTER(ctypes.c_int))[0]).decode()
                     for p in walk(codec, "av_parser_iterate"))
    demuxers = sorted(name(d) for d in walk(fmt, "av_demuxer_iterate"))
    muxers = sorted(name(m) for m in walk(fmt, "av_muxer_iterate"))
    fmt.avio_enum_protocols.restype = ctypes.c_char_p
    fmt.avio_enum_protocols.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int]
    opaque, protocols = ctypes.c_void_p(0), []
    while (p := fmt.avio_enum_protocols(ctypes.byref(opaque), 0)) is not None:
        protocols.append(p.decode())
    print("; ".join(f"{kind} {' '.join(items)}" for kind, items in [
        ("encoders", encoders), ("decoders", decoders), ("demuxers", demuxers),
        ("muxers", muxers), ("parsers", parsers), ("protocols", sorted(protocols))]))


if __name__ == "__main__":
    main()
