// What a render is asked to do: encode settings and the request naming inputs and output.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "media/audio_finish_settings.h"
#include "media/frame_arrivals.h"

namespace renderer::media {

namespace fs = std::filesystem;

// The settings a user can set. Their ranges are stated once, in render_settings.cpp's table;
// the names users know them by (env vars, flags) belong to whoever reads them
// (worker/render_config).
enum class Setting {
    Fps,
    Codec,
    Preset,
    Crf,
    Threads,
    DecodeThreads,
    AudioBitrate,
    Size,
    SizeSide,
    MaxFramePixels,
    MusicDir,
    OutputDir,
    MinFreeBytes,
    AudioFit,
    AudioFadeInMs,
    AudioFadeOutMs,
    AudioLoudness,  // LUFS
    AudioTruePeak,  // dBTP
    KeyintSec,
    FrameTiming,
    VfrMaxHoldMs,
};

// The video codecs a render can write (DESIGN 3.3), each through its libavcodec encoder:
// libx264, libx265 (tagged hvc1), libsvtav1.
enum class VideoCodec { H264, Hevc, Av1 };

// FRAME_TIMING (DESIGN 3.2). Cfr: one encoded frame per input frame. Vfr: a run of identical
// frames is encoded once, lasting the run (at most VFR_MAX_HOLD_MS and KEYINT_SEC).
enum class FrameTiming { Cfr, Vfr };

// The accepted range of a numeric setting (Fps, Crf, Threads, DecodeThreads, AudioBitrate,
// SizeSide: one side of a size, MaxFramePixels; Preset for a codec whose presets are numbers);
// validate() and every parser of these values use it. Crf and Preset depend on the codec.
struct SettingRange {
    std::int64_t min;
    std::int64_t max;
};
SettingRange setting_range(Setting setting, VideoCodec codec = VideoCodec::H264);

// The names a configuration layer knows a setting by, for messages: "FPS, --fps". nullptr: none.
using SettingNames = std::string_view (*)(Setting);
// " (FPS, --fps)" to follow a setting's description in a message, or "" without names.
std::string named(Setting setting, SettingNames names);

struct RenderSettings {
    int fps = 30;
    std::int64_t audio_bitrate = 192000;  // bits/s
    VideoCodec codec = VideoCodec::H264;
    // The codec's preset and crf; unset: the codec's defaults (effective_preset, effective_crf),
    // chosen to give about the quality of x264's medium/crf 23 (docs/DECISIONS.md).
    std::optional<std::string> preset;
    std::optional<int> crf;
    std::int64_t video_bitrate = 0;  // bits/s; when set, replaces crf (ABR)
    std::string x264_params;         // passed to x264 as -x264-params (h264 only)
    // Encoder threads (x264 threads, x265 pools and frame-threads, SVT-AV1 lp). Fixed by
    // configuration, never derived from the core count, so identical inputs give identical bytes
    // on any machine.
    int threads = 3;
    int decode_threads = 0;  // PNG decode + conversion pool; 0 = half the available CPUs, 1 to 4
    int width = 0;           // canvas; 0 = first frame's size rounded up to even
    int height = 0;
    // Refuse larger PNG headers (and canvases) before allocating. A render's peak RSS is about
    // 100 MiB + 200 bytes per canvas pixel (docs/PERFORMANCE.md, "Memory per pixel"): 4K UHD
    // peaks at 1.7 GiB, within three quarters of the pod's 3 GiB limit; 8K (6.4 GiB) would be
    // OOM-killed. Raise it only with the memory limit.
    std::uint64_t max_frame_pixels = 3840ull * 2160;
    bool use_cache = true;  // skip encoding when the artifact at the final path has our key
    // A keyframe at least this often, in seconds of presentation time, whatever the timing: a
    // player seeks to a keyframe, so this bounds how far it decodes to show any instant.
    int keyint_sec = 10;
    FrameTiming frame_timing = FrameTiming::Cfr;
    int vfr_max_hold_ms = 1000;  // vfr: the longest one encoded frame may show
    AudioFinishSettings audio;   // fit, fades, loudness (DESIGN 3.1)
};

struct RenderRequest {
    std::string story_id;
    std::string part_id;
    fs::path frames_dir;
    fs::path music_dir;
    // first | named:<file> | hash
    std::string music_select = "first";
    fs::path output_dir;
    // {story_id}, {part_id}, {ts} are replaced; the result must be a plain file name.
    std::string output_name_template = "{story_id}_{part_id}.mp4";
    RenderSettings settings;
    // Refuse to start below this much free space in output_dir (MIN_FREE_BYTES).
    std::uint64_t min_free_bytes = 2ull << 30;
    // How the caller's users set each setting (env var, flag), named in preflight's messages.
    SettingNames setting_names = nullptr;
    // With --debug: the full libav log of this render goes to this file.
    std::optional<fs::path> libav_report_path;
    // Told the path of the hidden temp file in output_dir as soon as it exists. Stale sweeps
    // judge temp files by their age, and a render may pause between writes (a slow fsync, a
    // stalled read of a frame); whoever keeps the job alive keeps this file fresh too.
    std::function<void(const fs::path&)> on_temp_file;
    // Frames still being fetched (set by the worker for frames in object storage): the frame
    // list comes from here rather than from listing frames_dir, and each frame is waited for
    // and its PNG header checked when the render reaches it, so a bad frame is still a
    // PreflightError, raised mid-render instead of before it. Null: every frame is on disk.
    std::shared_ptr<const FrameArrivals> arriving_frames;
};

struct RenderResult {
    fs::path path;
    std::uint64_t bytes = 0;
    std::int64_t duration_ms = 0;
    std::string audio_track;  // file name of the chosen track
    std::int64_t frames = 0;  // video frames in the output
    int width = 0;
    int height = 0;
    double wall_sec = 0;
    double encode_fps = 0;
    bool cache_hit = false;
    // Where the wall time went, in seconds (0 for a cache hit's encode stages). Decoding runs on
    // threads ahead of the encoder, so `decode_wait` is the time the encoder waited for decoded
    // frames (the pipeline was the bottleneck), and `encode` the rest of the encode loop: video,
    // audio, flush and trailer. `publish`: fsync, rename and the check of the published file.
    struct Stages {
        double preflight = 0;
        double decode_wait = 0;
        double encode = 0;
        double publish = 0;
    } stages;
    // The delivered audio's loudness when a loudness target was set (AUDIO_LOUDNESS): integrated
    // loudness and true peak after the gain, and the gain.
    struct Loudness {
        double lufs = 0;
        double true_peak_dbtp = 0;
        double gain_db = 0;
    };
    std::optional<Loudness> loudness;
    // What the render survived but the job's owner should hear about (damaged music frames).
    std::vector<std::string> warnings;
};

struct Progress {
    std::int64_t frames_done = 0;
    std::int64_t frames_total = 0;
    double elapsed_sec = 0;
    double fps = 0;
};

// "h264" -> VideoCodec::H264 ...; nullopt for a name that is not one of codec_list().
std::optional<VideoCodec> parse_video_codec(std::string_view name);
std::string_view codec_name(VideoCodec codec);  // "h264", "hevc", "av1"
const char* encoder_name(VideoCodec codec);     // "libx264", "libx265", "libsvtav1"
std::string codec_list();                       // "h264, hevc, av1": for messages
// VIDEO_CODEC text; ConfigError naming `name` and the valid values otherwise.
VideoCodec parse_video_codec_setting(std::string_view name, std::string_view text);

bool is_preset(VideoCodec codec, std::string_view name);
// "ultrafast, superfast, ..., placebo" or "0 to 13": for messages.
std::string preset_list(VideoCodec codec);
std::string effective_preset(const RenderSettings& settings);
// Switches settings to `codec`. A preset or crf chosen for another codec does not carry over
// (x264's "veryfast" means nothing to SVT-AV1, and crf scales differ): they return to the new
// codec's defaults unless a later layer sets them.
void use_codec(RenderSettings& settings, VideoCodec codec);
int effective_crf(const RenderSettings& settings);
// "1280x720" -> width, height (even, each side in setting_range(SizeSide)); ConfigError naming
// `name` otherwise.
void parse_size(std::string_view name, std::string_view text, int& width, int& height);
// first | hash | named:FILE (a plain file name); ConfigError otherwise.
void validate_music_select(std::string_view text);
// AUDIO_FIT text: shortest | loop | pad; ConfigError naming `name` otherwise.
AudioFit parse_audio_fit_setting(std::string_view name, std::string_view text);
// AUDIO_LOUDNESS text: off, or a target in LUFS in its range; ConfigError naming `name` otherwise.
std::optional<double> parse_audio_loudness(std::string_view name, std::string_view text);
// FRAME_TIMING text: cfr | vfr; ConfigError naming `name` otherwise.
FrameTiming parse_frame_timing(std::string_view name, std::string_view text);
std::string_view to_string(FrameTiming timing);
// The longest gap between keyframes in frame periods (1/fps): KEYINT_SEC * FPS.
int keyint_frames(const RenderSettings& settings);
// The most frame periods one vfr frame may last: VFR_MAX_HOLD_MS and KEYINT_SEC, whole periods,
// at least one.
int max_hold_frames(const RenderSettings& settings);
// ConfigError naming both settings (as `names` does) when the codec cannot keep the frame
// timing's promises: vfr forces keyframes by time, which SVT-AV1 ignores. validate() checks it;
// `renderer bench`, whose grid crosses codecs with timings, checks each pair.
void validate_timing_codec(FrameTiming timing, VideoCodec codec, SettingNames names);
// ConfigError with an actionable message for any out-of-range setting, naming it as `names` does.
void validate(const RenderSettings& settings, SettingNames names = nullptr);

}  // namespace renderer::media
