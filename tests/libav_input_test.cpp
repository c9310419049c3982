// The libav attack surface: a file a job can influence (its music track, the artifact at its
// output path, a file given to `renderer probe`) must reach only the demuxer meant to read it,
// and nothing it names is opened. Tripwires: an inotify watch on the files the hostile inputs
// name, and a loopback HTTP server that records any request.
#include <gtest/gtest.h>

#include "common/error.h"
#include "media/libav_input.h"
#include "media/music_probe.h"
#include "media/probe.h"
#include "media/slideshow.h"
#include "support/bad_media.h"
#include "support/capture_sink.h"
#include "support/fixtures.h"
#include "support/media_inspect.h"
#include "support/mp3_fixture.h"
#include "support/open_tripwire.h"
#include "support/stub_api.h"
#include "support/test_request.h"

extern "C" {
#include <libavformat/avformat.h>
}

namespace renderer::testing {
namespace {

// short_1s.mp3's audio, stream-copied into MPEG-TS.
std::string mp3_in_mpegts(const fs::path& dir) {
    AVFormatContext* in_raw = nullptr;
    if (avformat_open_input(&in_raw, (testdata() / "media/short_1s.mp3").c_str(), nullptr,
                            nullptr) < 0) {
        throw std::runtime_error("cannot open short_1s.mp3");
    }
    media::InputFormatPtr in(in_raw);
    avformat_find_stream_info(in.get(), nullptr);
    const fs::path out_path = dir / "ts.tmp";
    AVFormatContext* out_raw = nullptr;
    avformat_alloc_output_context2(&out_raw, nullptr, "mpegts", out_path.c_str());
    media::OutputFormatPtr out(out_raw);
    AVStream* st = avformat_new_stream(out.get(), nullptr);
    avcodec_parameters_copy(st->codecpar, in->streams[0]->codecpar);
    if (avio_open(&out->pb, out_path.c_str(), AVIO_FLAG_WRITE) < 0)
        throw std::runtime_error("cannot write ts");
    if (avformat_write_header(out.get(), nullptr) < 0) throw std::runtime_error("ts header");
    media::PacketPtr pkt = media::make_packet();
    while (av_read_frame(in.get(), pkt.get()) >= 0) {
        if (pkt->stream_index == 0) {
            av_packet_rescale_ts(pkt.get(), in->streams[0]->time_base, st->time_base);
            pkt->stream_index = 0;
            av_interleaved_write_frame(out.get(), pkt.get());
        }
        av_packet_unref(pkt.get());
    }
    av_write_trailer(out.get());
    out.reset();
    const std::string bytes = read_bytes(out_path);
    fs::remove(out_path);
    return bytes;
}

class LibavInputTest : public ::testing::Test {
  protected:
    void SetUp() override {
        logs_ = capture_json_logs(true);
        for (const char* d : {"music", "out", "elsewhere"}) fs::create_directories(tmp_ / d);
        write_frames(tmp_ / "frames", 6, 32, 32);
        // Real MP3s a hostile file might name: one beside the track, one in another directory.
        fs::copy_file(testdata() / "media/short_1s.mp3", tmp_ / "music/other.mp3");
        fs::copy_file(testdata() / "media/short_1s.mp3", tmp_ / "elsewhere/background.mp3");
    }

    media::RenderRequest request() {
        media::RenderRequest r = test_request(tmp_.path(), tmp_ / "frames");
        r.music_select = "named:track.mp3";
        return r;
    }

    // Renders with `track.mp3` holding `bytes`; returns the error (the render must fail).
    Error refused(const std::string& bytes) {
        write_bytes(tmp_ / "music/track.mp3", bytes);
        media::CancelToken cancel;
        try {
            media::render_slideshow(request(), log::Context{}, cancel);
        } catch (const Error& e) {
            EXPECT_TRUE(dir_entries(tmp_ / "out").empty());
            return e;
        }
        ADD_FAILURE() << "a track that is not an MP3 was rendered";
        return Error(ErrorClass::Cancelled, "rendered");
    }

    std::vector<fs::path> decoys() const {
        return {tmp_ / "music/other.mp3", tmp_ / "elsewhere/background.mp3"};
    }

    TempDir tmp_;
    std::shared_ptr<CaptureSink> logs_;
};

// An ID3v2 tag (v2.3) holding one text frame.
std::string id3_tag(const std::string& frame_id, const std::string& text) {
    std::string frame = frame_id;
    const std::uint32_t n = static_cast<std::uint32_t>(text.size() + 1);
    for (int i = 3; i >= 0; --i) frame += static_cast<char>((n >> (8 * i)) & 0xff);
    frame += std::string("\0\0\0", 3) + text;  // flags, encoding ISO-8859-1
    const auto size = static_cast<std::uint32_t>(frame.size());
    std::string tag = std::string("ID3\x03\x00\x00", 6);
    for (int i = 3; i >= 0; --i) tag += static_cast<char>((size >> (7 * i)) & 0x7f);  // syncsafe
    return tag + frame;
}

std::string hls_playlist(const std::vector<std::string>& segments) {
    std::string p = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n";
    for (const auto& s : segments) p += "#EXTINF:1.0,\n" + s + "\n";
    return p + "#EXT-X-ENDLIST\n";
}

TEST_F(LibavInputTest, HlsPlaylistNamedMp3IsRefusedWithoutOpeningItsSegments) {
    StubApi http;
    OpenTripwire tripwire(decoys());
    const Error e = refused(hls_playlist(
        {(tmp_ / "elsewhere/background.mp3").string(), "other.mp3", http.url() + "/segment.mp3"}));
    EXPECT_EQ(e.error_class(), ErrorClass::PreflightError);
    EXPECT_NE(std::string(e.what()).find("not an MP3 file: it reads as hls"), std::string::npos)
        << e.what();
    EXPECT_EQ(tripwire.opens(), 0) << "a file named in the playlist was opened";
    EXPECT_EQ(http.total_hits(), 0) << "a URL named in the playlist was requested";
}

TEST_F(LibavInputTest, ConcatScriptNamedMp3IsRefusedWithoutOpeningWhatItNames) {
    OpenTripwire tripwire(decoys());
    const Error e = refused("ffconcat version 1.0\nfile 'other.mp3'\nfile '" +
                            (tmp_ / "elsewhere/background.mp3").string() + "'\n");
    EXPECT_EQ(e.error_class(), ErrorClass::PreflightError);
    EXPECT_NE(std::string(e.what()).find("it reads as concat"), std::string::npos) << e.what();
    EXPECT_EQ(tripwire.opens(), 0);
}

// Every text format a hostile track.mp3 may hold is refused with the same message on FFmpeg 5.1
// and 7.1, naming what the file is, and nothing it names is opened. FFmpeg 7's hls probe names
// no playlist whose file name does not end in .m3u8 or .m3u, so there the sniff's own look at
// the text names it; libavformat's probe skips ID3v2 tags, and so must that look.
TEST_F(LibavInputTest, TextFormatsNamedMp3AreRefusedNamingWhatTheyAreOnEveryFfmpeg) {
    StubApi http;
    OpenTripwire tripwire(decoys());
    const std::string background = (tmp_ / "elsewhere/background.mp3").string();
    const std::string hls = hls_playlist({background, "other.mp3", http.url() + "/segment.mp3"});
    const struct {
        const char* what;
        std::string bytes;
        const char* reads_as;
    } cases[] = {
        {"HLS playlist", hls, "it reads as hls (an HLS playlist)"},
        {"HLS playlist behind an ID3v2 tag", id3_tag("TIT2", "x") + hls,
         "it reads as hls (an HLS playlist)"},
        {"HLS playlist with a UTF-8 byte order mark", "\xEF\xBB\xBF" + hls,
         "it reads as hls (an HLS playlist)"},
        {"M3U playlist", "#EXTM3U\n#EXTINF:1,x\n" + background + "\nother.mp3\n",
         "it reads as m3u (an M3U playlist)"},
        {"ffconcat script", "ffconcat version 1.0\nfile 'other.mp3'\nfile '" + background + "'\n",
         "it reads as concat (an ffconcat script)"},
        {"SDP session",
         "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=x\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 5004 "
         "RTP/AVP 14\r\n",
         "it reads as sdp (an SDP session description)"},
        {"DASH manifest",
         "<?xml version=\"1.0\"?>\n<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" "
         "profiles=\"urn:mpeg:dash:profile:isoff-on-demand:2011\" "
         "type=\"static\">\n<Period><AdaptationSet>"
         "<Representation id=\"a\" bandwidth=\"1\"><BaseURL>" +
             http.url() + "/a.mp4</BaseURL></Representation></AdaptationSet></Period></MPD>\n",
         "it reads as dash (a DASH manifest)"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.what);
        const Error e = refused(c.bytes);
        EXPECT_EQ(e.error_class(), ErrorClass::PreflightError);
        EXPECT_NE(std::string(e.what()).find(std::string("music 'track.mp3' is not an MP3 file: ") +
                                             c.reads_as),
                  std::string::npos)
            << e.what();
    }
    EXPECT_EQ(tripwire.opens(), 0) << "a file named in the text was opened";
    EXPECT_EQ(http.total_hits(), 0) << "a URL named in the text was requested";
}

TEST_F(LibavInputTest, MpegTsNamedMp3IsRefusedNamingWhatItIs) {
    const Error e = refused(mp3_in_mpegts(tmp_.path()));
    EXPECT_EQ(e.error_class(), ErrorClass::PreflightError);
    EXPECT_NE(std::string(e.what()).find("it reads as mpegts"), std::string::npos) << e.what();
}

TEST_F(LibavInputTest, PlaylistAtTheArtifactPathIsReRenderedWithoutOpeningWhatItNames) {
    fs::copy_file(testdata() / "media/short_1s.mp3", tmp_ / "music/track.mp3");
    StubApi http;
    write_bytes(tmp_ / "out/S1_P1.mp4", hls_playlist({(tmp_ / "elsewhere/background.mp3").string(),
                                                      http.url() + "/segment.mp4"}));
    OpenTripwire tripwire({tmp_ / "elsewhere/background.mp3"});
    media::CancelToken cancel;
    const auto r = media::render_slideshow(request(), log::Context{}, cancel);
    EXPECT_FALSE(r.cache_hit);
    EXPECT_EQ(tripwire.opens(), 0);
    EXPECT_EQ(http.total_hits(), 0);
    const auto info = media::probe_file(r.path);
    EXPECT_EQ(count_streams(info, "video"), 1);
    EXPECT_EQ(count_streams(info, "audio"), 1);
}

TEST_F(LibavInputTest, ProbeReadsAnyFormatButOpensNothingElse) {
    StubApi http;
    write_bytes(tmp_ / "list.m3u8", hls_playlist({(tmp_ / "elsewhere/background.mp3").string(),
                                                  http.url() + "/segment.mp3"}));
    OpenTripwire tripwire({tmp_ / "elsewhere/background.mp3"});
    try {
        const auto info = media::probe_file(tmp_ / "list.m3u8");
        EXPECT_TRUE(info.streams.empty()) << "nothing behind the playlist was read";
    } catch (const Error& e) {
        EXPECT_EQ(e.error_class(), ErrorClass::PreflightError);
    }
    EXPECT_EQ(tripwire.opens(), 0);
    EXPECT_EQ(http.total_hits(), 0);

    // Any format a file holds is still read: an MPEG-TS, for one.
    write_bytes(tmp_ / "audio.ts", mp3_in_mpegts(tmp_.path()));
    const auto ts = media::probe_file(tmp_ / "audio.ts");
    EXPECT_EQ(ts.format, "mpegts");
    EXPECT_EQ(count_streams(ts, "audio"), 1);
}

// The messages preflight gave before the sniff replaced libavformat's probing stay the same.
TEST_F(LibavInputTest, NonMp3MessagesNameWhatTheFileIs) {
    write_bytes(tmp_ / "music/track.mp3", wav_file(6, 8000, 4000));
    try {
        media::probe_audio(tmp_ / "music/track.mp3");
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("reads as wav (pcm_s16le audio, 6 channels, 8000 Hz)"),
                  std::string::npos)
            << e.what();
    }
}

}  // namespace
}  // namespace renderer::testing

namespace renderer::testing {
namespace {

// A music file's ID3v2 tags (title, cover art, private frames: up to 256 MiB each) are of no use
// to a render, and libavformat's tag parser is hostile-input surface of its own: a track with a
// 150 MiB PRIV frame took 47 s and 819 MB to render 3 frames, all of it in that parser. The
// mp3 demuxer must start after the tags.
TEST(LibavInputMusic, TheTagsOfAMusicFileNeverReachLibavformat) {
    TempDir tmp;
    // Two tags in a row (a tagger's new tag before the old one), then cover art in the second.
    write_bytes(tmp / "tagged.mp3",
                id3_tag("TIT2", "hostile title") + read_bytes(testdata() / "media/cover_art.mp3"));
    const media::InputFormatPtr fmt =
        media::open_input(tmp / "tagged.mp3", ErrorClass::DecodeError, media::InputPolicy::Music);
    EXPECT_EQ(fmt->nb_streams, 1u) << "the cover art in the tag was parsed into a stream";
    EXPECT_EQ(av_dict_get(fmt->metadata, "title", nullptr, 0), nullptr)
        << "the first tag was parsed";
    EXPECT_EQ(av_dict_get(fmt->metadata, "encoder", nullptr, 0), nullptr)
        << "the second tag was parsed";

    // What is heard is unchanged: preflight's duration equals the decoder's, and it renders.
    const auto probe = media::probe_audio(tmp / "tagged.mp3");
    EXPECT_EQ(std::llround(probe.duration_sec * probe.sample_rate),
              static_cast<long long>(decode_pcm(testdata() / "media/cover_art.mp3").samples()));
}

}  // namespace
}  // namespace renderer::testing

namespace renderer::testing {
namespace {

// An ID3v2 header claiming more bytes than the file holds (a damaged or hostile tag): the
// audio cannot start where the tag says, and the message must say so, not "Invalid argument".
TEST(LibavInputMusic, ATagLongerThanTheFileIsRefusedSayingSo) {
    TempDir tmp;
    const std::string mp3 = read_bytes(testdata() / "media/short_1s.mp3");
    std::string lying =
        std::string("ID3\x03\x00\x00\x64\x00\x00\x00", 10) + mp3;  // 0x64 << 21: 200 MiB
    write_bytes(tmp / "lying.mp3", lying);
    try {
        media::probe_audio(tmp / "lying.mp3");
        FAIL() << "a track whose tag runs past its end was probed";
    } catch (const Error& e) {
        EXPECT_EQ(e.error_class(), ErrorClass::PreflightError) << e.what();
        EXPECT_NE(std::string(e.what()).find("ID3"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("lying.mp3"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace renderer::testing
