#!/usr/bin/env python3
"""Benchmarks `renderer render` against the ffmpeg CLI on the reference workloads.

Runs each configuration N times, ours and the CLI interleaved (so drift on a noisy machine
favours neither), and prints medians of wall time, CPU time and peak memory as ratios, plus
each output's PSNR against the source frames (both decoded to RGB with their own colour
matrix). Writes the table as Markdown to --out when given."""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

CONFIGS = [
    # name, workload dir, preset
    ("W1 medium", "w1_kenburns_1080p", "medium"),
    ("W1 veryfast", "w1_kenburns_1080p", "veryfast"),
    ("W2 medium", "w2_held_720p", "medium"),
    ("W3 medium", "w3_long_1080p", "medium"),
]
TARGETS = {  # wall, cpu, memory ratio targets from the issue
    "W1 medium": (0.88, 0.90, 1.0),
    "W1 veryfast": (0.72, 0.80, 1.0),
    "W2 medium": (0.50, 0.50, 1.0),
    "W3 medium": (0.88, 0.90, None),
}


def timed(cmd, env=None):
    """Runs cmd under /usr/bin/time; returns (wall s, cpu s, peak RSS MiB)."""
    fmt = "BENCH %e %U %S %M"
    res = subprocess.run(["/usr/bin/time", "-f", fmt] + cmd, env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    if res.returncode != 0:
        sys.exit(f"command failed ({res.returncode}): {' '.join(cmd)}\n{res.stderr[-2000:]}")
    m = re.search(r"BENCH ([\d.]+) ([\d.]+) ([\d.]+) (\d+)", res.stderr)
    wall, user, sys_, rss = float(m[1]), float(m[2]), float(m[3]), int(m[4])
    return wall, user + sys_, rss / 1024.0


def psnr(video, frames_dir, fps=30):
    """Average PSNR (RGB) of `video` against the source PNGs, with the ffmpeg CLI's psnr filter.
    The video is first put on the frames' 30 fps grid (a no-op for CFR; a VFR file's held frame
    is repeated over the instants it shows), so frame i is compared with PNG i."""
    graph = ("[0:v]fps=30,scale=in_range=auto:in_color_matrix=auto,format=rgb24[a];"
             "[1:v]format=rgb24[b];[a][b]psnr")
    res = subprocess.run(["ffmpeg", "-hide_banner", "-nostats", "-i", video, "-framerate", str(fps),
                          "-pattern_type", "glob", "-i", os.path.join(frames_dir, "*.png"),
                          "-lavfi", graph, "-f", "null", "-"], stderr=subprocess.PIPE, text=True)
    m = re.search(r"average:([\d.inf]+)", res.stderr)
    return float(m[1]) if m else float("nan")


def psnr_between(a, b):
    """Average PSNR (Y'CbCr, the psnr filter's "average") of video `a` against video `b`, both on
    a 30 fps grid: a VFR render against the CFR render of the same frames."""
    res = subprocess.run(["ffmpeg", "-hide_banner", "-nostats", "-i", a, "-i", b, "-lavfi",
                          "[0:v]fps=30[a];[1:v]fps=30[b];[a][b]psnr", "-f", "null", "-"],
                         stderr=subprocess.PIPE, text=True)
    m = re.search(r"average:([\d.inf]+)", res.stderr)
    return float(m[1]) if m else float("nan")


# Frame timing (issue 14): our vfr against the CLI and against our own cfr, and two x264 tunings
# of cfr on the held-slide workloads. name, workload, [(label, our extra flags)], CLI anchor?
STILLIMAGE = "aq-strength=1.2:deblock=-3,-3:psy-rd=2.0,0.7"  # x264's --tune stillimage
TIMING_CONFIGS = [
    ("W2", "w2_held_720p", [("cfr", []), ("vfr", ["--frame-timing", "vfr"]),
                            ("cfr stillimage", ["--x264-params", STILLIMAGE]),
                            ("cfr keyint 250 frames", ["--x264-params", "keyint=250"])], True),
    ("W4", "w4_story_1080p", [("cfr", []), ("vfr", ["--frame-timing", "vfr"]),
                              ("cfr stillimage", ["--x264-params", STILLIMAGE]),
                              ("cfr keyint 250 frames", ["--x264-params", "keyint=250"])], True),
    ("W1", "w1_kenburns_1080p", [("cfr", []), ("vfr", ["--frame-timing", "vfr"])], False),
    ("W3", "w3_long_1080p", [("cfr", []), ("vfr", ["--frame-timing", "vfr"])], False),
]
TIMING_TARGETS = {"W2": 0.15, "W4": 0.40}  # vfr to the CLI, wall and CPU


def run_timing(args, env, out_dir):
    wl = args.workloads
    music = os.path.join(wl, "music")
    names = args.only.split(",") if args.only else None
    lines = ["| workload | variant | ours wall / CPU | to the CLI (wall / CPU) | to our cfr "
             "(wall / CPU) | size (to cfr) | PSNR to source (dB) | PSNR to our cfr output (dB) | "
             "target |", "|---|---|---|---|---|---|---|---|---|"]
    for name, work, variants, with_cli in TIMING_CONFIGS:
        if names and name not in names:
            continue
        frames = os.path.join(wl, work, "frames")
        if not os.path.isdir(frames):
            sys.exit(f"no workload {frames}: run bench/make_workloads.sh and bench/make_w4.sh")
        runs = []  # (label, cmd, output, times)
        for label, extra in variants:
            part = label.replace(" ", "_")
            runs.append((label, [args.renderer, "render", "--frames", frames, "--story", "t",
                                 "--part", part, "--music-dir", music, "--output", out_dir,
                                 "--preset", "medium", "--no-cache", "--log-level", "warn"] + extra,
                         os.path.join(out_dir, f"t_{part}.mp4"), []))
        if with_cli:
            cli_out = os.path.join(out_dir, "cli.mp4")
            runs.append(("CLI", ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-framerate",
                                 "30", "-pattern_type", "glob", "-i", os.path.join(frames, "*.png"),
                                 "-i", os.path.join(music, "background.mp3"), "-c:v", "libx264",
                                 "-preset", "medium", "-crf", "23", "-pix_fmt", "yuv420p", "-c:a",
                                 "aac", "-b:a", "192k", "-shortest", "-map", "0:v:0", "-map",
                                 "1:a:0", cli_out], cli_out, []))
        for i in range(args.repeat):
            k = i % len(runs)  # rotate the order, as in the main table
            for label, cmd, _, acc in runs[k:] + runs[:k]:
                acc.append(timed(cmd, env))
                print(f"  {name} {label} run {i + 1}: {acc[-1]}", file=sys.stderr)
        med = {label: [statistics.median(t[j] for t in acc) for j in range(3)]
               for label, _, _, acc in runs}
        outs = {label: path for label, _, path, _ in runs}
        cfr_size = os.path.getsize(outs["cfr"])
        for label, _, path, _ in runs:
            if label == "CLI":
                continue
            o = med[label]
            cli = (f"{o[0] / med['CLI'][0]:.2f} / {o[1] / med['CLI'][1]:.2f}"
                   if with_cli else "—")
            to_cfr = f"{o[0] / med['cfr'][0]:.3f} / {o[1] / med['cfr'][1]:.3f}"
            size = os.path.getsize(path)
            vs_cfr = "—" if label == "cfr" else f"{psnr_between(path, outs['cfr']):.2f}"
            target = ""
            if label == "vfr":
                target = (f"≤ {TIMING_TARGETS[name]:.2f} of the CLI" if name in TIMING_TARGETS
                          else "within 2 % of cfr")
            lines.append(f"| {name} | {label} | {o[0]:.2f} s / {o[1]:.2f} s | {cli} | {to_cfr} | "
                         f"{size / 1e6:.2f} MB ({size / cfr_size:.2f}) | "
                         f"{psnr(path, frames):.2f} | {vs_cfr} | {target} |")
        if with_cli:
            c = med["CLI"]
            lines.append(f"| {name} | ffmpeg CLI | {c[0]:.2f} s / {c[1]:.2f} s | 1 | | "
                         f"{os.path.getsize(outs['CLI']) / 1e6:.2f} MB | "
                         f"{psnr(outs['CLI'], frames):.2f} | | |")
        for _, _, path, _ in runs:
            os.remove(path)
    return "\n".join(lines)


def floor(frames, preset, workdir, width_height, matrix):
    """x264 alone: the same frames pre-converted (untimed) to raw yuv420p with `matrix` (bt601,
    what the spec's command uses, or bt709, ours), then only the encode timed. No pipeline
    feeding x264 that input can use less."""
    raw = os.path.join(workdir, "raw.yuv")
    vf = ["-vf", "scale=out_color_matrix=bt709:out_range=tv"] if matrix == "bt709" else []
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-framerate", "30",
                    "-pattern_type", "glob", "-i", os.path.join(frames, "*.png")] + vf +
                   ["-f", "rawvideo", "-pix_fmt", "yuv420p", raw], check=True)
    cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "yuv420p",
           "-s", width_height, "-framerate", "30", "-i", raw, "-c:v", "libx264", "-preset", preset,
           "-crf", "23", os.path.join(workdir, "floor.mp4")]
    result = timed(cmd)
    os.remove(raw)
    return result


def frame_size(frames):
    res = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "stream=width,height", "-of", "csv=p=0:s=x",
                          sorted(os.path.join(frames, f) for f in os.listdir(frames))[0]],
                         capture_output=True, text=True, check=True)
    return res.stdout.strip()


def floor_cell(row, cli, key):
    if key not in row:
        return "—"
    f = row[key]
    return f"{f[0]:.2f} s / {f[1]:.2f} s ({f[0] / cli[0]:.2f} / {f[1] / cli[1]:.2f})"


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--renderer", required=True)
    ap.add_argument("--workloads", required=True)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", help="comma-separated config names, e.g. 'W1 medium,W2 medium'")
    ap.add_argument("--out", help="write the Markdown table here")
    ap.add_argument("--timing", action="store_true",
                    help="frame timing instead (issue 14): vfr vs the CLI and vs cfr, and x264 "
                         "tunings of cfr on held slides; --only takes W1,W2,W3,W4")
    ap.add_argument("--floor", action="store_true",
                    help="also time x264 alone on pre-converted raw frames, BT.601 and BT.709 (the floors)")
    args = ap.parse_args()

    if args.timing:
        out_dir = tempfile.mkdtemp(prefix="renderer-bench-")
        table = run_timing(args, dict(os.environ, MIN_FREE_BYTES="1G"), out_dir)
        print(table)
        if args.out:
            with open(args.out, "w", encoding="utf-8") as f:
                f.write(table + "\n")
        shutil.rmtree(out_dir, ignore_errors=True)
        return

    wl = args.workloads
    music = os.path.join(wl, "music")
    configs = [c for c in CONFIGS if not args.only or c[0] in args.only.split(",")]
    out_dir = tempfile.mkdtemp(prefix="renderer-bench-")
    env = dict(os.environ, MIN_FREE_BYTES="1G")
    rows = []
    ours_w1_peak = None
    for name, work, preset in configs:
        frames = os.path.join(wl, work, "frames")
        ours_cmd = [args.renderer, "render", "--frames", frames, "--story", "bench", "--part", "out",
                    "--music-dir", music, "--output", out_dir, "--preset", preset, "--no-cache",
                    "--log-level", "warn"]
        cli_out = os.path.join(out_dir, "cli.mp4")
        cli_cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-framerate", "30",
                   "-pattern_type", "glob", "-i", os.path.join(frames, "*.png"),
                   "-i", os.path.join(music, "background.mp3"), "-c:v", "libx264", "-preset", preset,
                   "-crf", "23", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "192k", "-shortest",
                   "-map", "0:v:0", "-map", "1:a:0", cli_out]
        # The CLI at our colour settings (BT.709, limited range, tagged): the same conversion
        # choice, so x264 gets the same kind of input and the differences are the pipeline's.
        # BT.709's chroma costs x264 more bits and work on saturated content than BT.601's.
        # swscale sites chroma at the block centre as we do; the tag only makes it say so.
        cli709 = os.path.join(out_dir, "cli709.mp4")
        cli709_cmd = cli_cmd[:-1] + ["-vf", "scale=out_color_matrix=bt709:out_range=tv,format=yuv420p",
                                     "-colorspace", "bt709", "-color_primaries", "bt709",
                                     "-color_trc", "bt709", "-color_range", "tv",
                                     "-chroma_sample_location", "center", cli709]
        ours, cli, c709 = [], [], []
        for i in range(args.repeat):
            # Rotate the order so none always runs on a warmer machine.
            trio = [("ours", ours_cmd, ours), ("cli", cli_cmd, cli), ("cli709", cli709_cmd, c709)]
            k = i % len(trio)
            for _, cmd, acc in trio[k:] + trio[:k]:
                acc.append(timed(cmd, env))
            print(f"  {name} run {i + 1}: ours {ours[-1]}, cli {cli[-1]}, cli bt709 {c709[-1]}",
                  file=sys.stderr)
        med = lambda xs, k: statistics.median(x[k] for x in xs)
        o = [med(ours, k) for k in range(3)]
        c = [med(cli, k) for k in range(3)]
        c7 = [med(c709, k) for k in range(3)]
        ours_mp4 = os.path.join(out_dir, "bench_out.mp4")
        p_ours, p_cli, p_cli709 = psnr(ours_mp4, frames), psnr(cli_out, frames), psnr(cli709, frames)
        row = {"name": name, "ours": o, "cli": c, "cli709": c7, "psnr_ours": p_ours, "psnr_cli": p_cli,
               "psnr_cli709": p_cli709}
        if args.floor:
            size = frame_size(frames)
            row["floor"] = floor(frames, preset, out_dir, size, "bt601")
            row["floor709"] = floor(frames, preset, out_dir, size, "bt709")
        if name == "W1 medium":
            ours_w1_peak = o[2]
            # Render cache: the same job again, unchanged, with the cache on (the file from the
            # last --no-cache run carries its key).
            hits = [timed(ours_cmd[:-3] + ["--log-level", "warn"], env) for _ in range(args.repeat)]
            row["cache_ratio"] = statistics.median(h[0] for h in hits) / o[0]
        rows.append(row)
        os.remove(ours_mp4)

    lines = ["| workload | ours wall / CPU / peak | CLI wall / CPU / peak | wall ratio | CPU ratio | "
             "memory ratio | CLI at BT.709 wall / CPU | ratio to it (wall / CPU) | "
             "PSNR ours / CLI / CLI at BT.709 (dB) | x264 floor, BT.601 input (ratio to CLI) | "
             "x264 floor, BT.709 input (ratio to CLI) | targets (wall, CPU, mem) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        o, c, c7 = r["ours"], r["cli"], r["cli709"]
        t = TARGETS.get(r["name"], (None, None, None))
        mem_ratio = o[2] / c[2]
        mem_note = ""
        if r["name"] == "W3 medium" and ours_w1_peak:
            mem_note = f" ({o[2] / ours_w1_peak:.2f}× our W1 peak)"
        tgt = ", ".join("—" if x is None else f"≤ {x:.2f}" for x in t)
        if r["name"] == "W3 medium":
            tgt = f"≤ {t[0]:.2f}, ≤ {t[1]:.2f}, within 10 % of our W1 peak"
        lines.append(f"| {r['name']} | {o[0]:.2f} s / {o[1]:.2f} s / {o[2]:.0f} MiB | "
                     f"{c[0]:.2f} s / {c[1]:.2f} s / {c[2]:.0f} MiB | {o[0] / c[0]:.2f} | "
                     f"{o[1] / c[1]:.2f} | {mem_ratio:.2f}{mem_note} | {c7[0]:.2f} s / {c7[1]:.2f} s | "
                     f"{o[0] / c7[0]:.2f} / {o[1] / c7[1]:.2f} | {r['psnr_ours']:.2f} / "
                     f"{r['psnr_cli']:.2f} / {r['psnr_cli709']:.2f} | {floor_cell(r, c, 'floor')} | "
                     f"{floor_cell(r, c, 'floor709')} | {tgt} |")
        if "cache_ratio" in r:
            lines.append(f"| W1 again, unchanged (cache hit) | wall {r['cache_ratio'] * o[0]:.2f} s | | "
                         f"{r['cache_ratio']:.3f} of our first render | | | | | | | | ≤ 0.10 |")
    table = "\n".join(lines)
    print(table)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(table + "\n")
    shutil.rmtree(out_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
