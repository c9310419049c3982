// Render settings as users configure them: the env vars (FPS, X264_CRF, ...) read over the
// defaults, and the names each setting goes by in messages. media states the ranges; this file
// states the names.
#pragma once

#include <string_view>

#include "media/render_settings.h"

namespace renderer::worker {

// "FPS": the env var a setting is given by (the worker and `renderer bench` read only these).
std::string_view env_setting_names(media::Setting setting);

// FPS, AUDIO_BITRATE, X264_PRESET, X264_CRF, VIDEO_BITRATE, X264_PARAMS, X264_THREADS,
// DECODE_THREADS, RENDER_SIZE, MAX_FRAME_PIXELS, RENDER_CACHE, AUDIO_FIT, AUDIO_FADE_IN_MS,
// AUDIO_FADE_OUT_MS, AUDIO_LOUDNESS, AUDIO_TRUE_PEAK, KEYINT_SEC, FRAME_TIMING, VFR_MAX_HOLD_MS
// over media's defaults, validated.
// Throws ConfigError naming the variable.
media::RenderSettings render_settings_from_env();

}  // namespace renderer::worker
