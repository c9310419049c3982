// probe_file: what libavformat finds, counted by demuxing.
#include <gtest/gtest.h>

#include <rapidjson/document.h>

#include "common/error.h"
#include "media/music_probe.h"
#include "media/probe.h"
#include "support/fixtures.h"
#include "support/media_inspect.h"

namespace renderer::testing {
namespace {

TEST(Probe, Mp3WithCoverArtShowsTheAttachedPicture) {
    const auto info = media::probe_file(testdata() / "media/cover_art.mp3");
    EXPECT_EQ(info.format, "mp3");
    ASSERT_EQ(info.streams.size(), 2u);
    EXPECT_EQ(first_stream(info, "audio")->codec, "mp3");
    EXPECT_EQ(first_stream(info, "audio")->sample_rate, 44100);
    EXPECT_TRUE(first_stream(info, "video")->attached_pic);
    const std::string json = media::to_json(info, false);
    rapidjson::Document d;
    ASSERT_FALSE(d.Parse(json.c_str()).HasParseError());
    EXPECT_EQ(d["streams"].Size(), 2u);
}

TEST(Probe, AudioDurationIsExactSamplesNotTheBitrateEstimate) {
    // short_1s.mp3 holds exactly 44100 decodable samples; gapless padding must not count.
    const auto p = media::probe_audio(testdata() / "media/short_1s.mp3");
    const auto decoded = decode_audio(testdata() / "media/short_1s.mp3");
    EXPECT_NEAR(p.duration_sec, static_cast<double>(decoded.samples) / decoded.sample_rate, 1e-6);
    EXPECT_EQ(p.channels, 2);
}

TEST(Probe, NonMediaIsAPreflightError) {
    TempDir t;
    write_png(t / "x.png", 4, 4, PngKind::Rgb8, Rgb{});
    EXPECT_THROW(media::probe_audio(t / "x.png"), Error);
    EXPECT_THROW(media::probe_file(t / "missing.mp4"), Error);
}

}  // namespace
}  // namespace renderer::testing
