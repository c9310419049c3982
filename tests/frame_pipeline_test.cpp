// The decode pool: frames come out in order, identical files are decoded once, and a frame that
// repeats one still being decoded does not hold up the other decode threads.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <fstream>
#include <future>
#include <map>
#include <mutex>

#include "common/error.h"
#include "media/frame_pipeline.h"
#include "support/fixtures.h"

namespace renderer::testing {
namespace {

using namespace std::chrono_literals;

// Wraps the real decoder: decodes of the file content `held` wait until release(), and every
// decode is counted by content, so a test can order events without sleeping.
class GatedDecoder {
  public:
    explicit GatedDecoder(std::vector<std::uint8_t> held) : held_(std::move(held)) {}

    media::PngDecodeFn fn() {
        return [this](std::span<const std::uint8_t> bytes, const std::string& name,
                      std::uint64_t max_pixels, ByteBuffer* recycle) {
            const bool is_held = std::equal(bytes.begin(), bytes.end(), held_.begin(), held_.end());
            {
                std::unique_lock lock(mutex_);
                ++started_[is_held ? "held" : name];
                cv_.notify_all();
                if (is_held) cv_.wait(lock, [this] { return released_; });
            }
            auto image = media::decode_png(bytes, name, max_pixels, recycle);
            {
                std::lock_guard lock(mutex_);
                ++finished_[is_held ? "held" : name];
            }
            cv_.notify_all();
            return image;
        };
    }

    // Waits until `key` has finished decoding `n` times. The bound only keeps a broken pipeline
    // from hanging the suite; a working one gets there as soon as a thread is free.
    bool wait_finished(const std::string& key, int n) {
        std::unique_lock lock(mutex_);
        return cv_.wait_for(lock, 60s, [&] { return finished_[key] >= n; });
    }
    bool wait_started(const std::string& key, int n) {
        std::unique_lock lock(mutex_);
        return cv_.wait_for(lock, 60s, [&] { return started_[key] >= n; });
    }
    void release() {
        {
            std::lock_guard lock(mutex_);
            released_ = true;
        }
        cv_.notify_all();
    }
    int started(const std::string& key) {
        std::lock_guard lock(mutex_);
        return started_[key];
    }

  private:
    const std::vector<std::uint8_t> held_;
    std::mutex mutex_;
    std::condition_variable cv_;
    bool released_ = false;
    std::map<std::string, int> started_, finished_;
};

TEST(FramePipeline, ARepeatWaitingOnItsFirstDecodeDoesNotBlockOtherThreads) {
    // Two decode threads, frames [A, A again, B]. One thread decodes A and is held there. The
    // other finds the second A already being decoded: it must move on to B, not sit waiting for
    // A (which, before the fix, it did while holding the cache lock, so with every thread either
    // decoding or waiting the pool was serialised behind one slow frame).
    TempDir t;
    write_png(t / "a.png", 16, 16, PngKind::Rgb8, Rgb{200, 30, 30});
    fs::copy_file(t / "a.png", t / "a_again.png");
    write_png(t / "b.png", 16, 16, PngKind::Rgb8, Rgb{30, 30, 200});
    GatedDecoder gate(read_file_bytes(t / "a.png"));
    media::CancelToken cancel;

    media::FramePipeline pipeline({t / "a.png", t / "a_again.png", t / "b.png"},
                                  media::Canvas{16, 16}, 2, 1 << 20, cancel, nullptr, gate.fn());
    // next() submits the window and waits for frame 0, which is held: call it on another thread.
    auto first = std::async(std::launch::async, [&] { return pipeline.next(); });
    ASSERT_TRUE(gate.wait_started("held", 1));

    const bool b_decoded = gate.wait_finished("b.png", 1);
    gate.release();
    EXPECT_TRUE(b_decoded)
        << "B was not decoded while the first A was held: the thread that met the repeated A "
           "waited for it instead of taking the next frame";

    const auto a = first.get();
    const auto a_again = pipeline.next();
    const auto b = pipeline.next();
    EXPECT_EQ(a.get(), a_again.get()) << "a repeated file is served the first decode's picture";
    EXPECT_NE(a.get(), b.get());
    EXPECT_EQ(gate.started("held"), 1) << "one decode per distinct frame";
    EXPECT_EQ(pipeline.stats().decoded, 2);
    EXPECT_EQ(pipeline.stats().reused, 1);
}

TEST(FramePipeline, ARepeatOfAFrameThatFailsCarriesTheSameError) {
    // The first decode's error reaches every frame that repeats it, in order.
    TempDir t;
    write_png(t / "ok.png", 8, 8, PngKind::Rgb8, Rgb{1, 2, 3});
    auto bad = read_file_bytes(t / "ok.png");
    bad[bad.size() - 20] ^= 0x40;  // inside IDAT: a CRC error
    for (const char* name : {"bad.png", "bad_again.png"}) {
        std::ofstream(t / name, std::ios::binary)
            .write(reinterpret_cast<const char*>(bad.data()),
                   static_cast<std::streamsize>(bad.size()));
    }
    media::CancelToken cancel;
    media::FramePipeline pipeline({t / "ok.png", t / "bad.png", t / "bad_again.png"},
                                  media::Canvas{8, 8}, 2, 1 << 20, cancel, nullptr);
    EXPECT_NE(pipeline.next(), nullptr);
    EXPECT_THROW(pipeline.next(), Error);
    EXPECT_THROW(pipeline.next(), Error);
    EXPECT_EQ(pipeline.stats().decoded, 2);
    EXPECT_EQ(pipeline.stats().reused, 1);
}

TEST(FramePipeline, AFailingFrameIsNamedWhicheverThreadDecodedItsBytes) {
    // Eight copies of one corrupt file on four threads: the bytes are decoded once, by whichever
    // thread hashes them first, and that decode's error reaches every copy. Each frame's error
    // must name that frame's file: a render fails at its first bad frame, and the message told
    // the operator to look at the file the decoding thread happened to read (a later copy in
    // about 1 run of 25 on a 2-core machine; the first frame's file for every repeat). Many runs
    // for the race; the second frame shows it on every run.
    TempDir t;
    write_png(t / "ok.png", 64, 64, PngKind::Rgb8, Rgb{1, 2, 3});
    auto bad = read_file_bytes(t / "ok.png");
    bad[bad.size() - 20] ^= 0x40;  // inside IDAT: a CRC error
    std::vector<fs::path> files;
    for (int i = 0; i < 8; ++i) {
        files.push_back(t / ("bad_" + std::to_string(i) + ".png"));
        std::ofstream(files.back(), std::ios::binary)
            .write(reinterpret_cast<const char*>(bad.data()),
                   static_cast<std::streamsize>(bad.size()));
    }
    int misnamed = 0;
    std::string example;
    for (int run = 0; run < 400; ++run) {
        media::CancelToken cancel;
        media::FramePipeline pipeline(files, media::Canvas{64, 64}, 4, 1 << 20, cancel, nullptr);
        for (std::size_t i = 0; i < 2; ++i) {
            try {
                pipeline.next();
                ADD_FAILURE() << "a corrupt frame was decoded";
            } catch (const Error& e) {
                EXPECT_EQ(e.error_class(), ErrorClass::DecodeError);
                const std::string want = "frame '" + files[i].filename().string() + "': ";
                if (std::string(e.what()).rfind(want, 0) != 0) {
                    ++misnamed;
                    example = e.what();
                }
            }
        }
    }
    EXPECT_EQ(misnamed, 0) << "e.g. " << example;
}

TEST(FramePipeline, HeldSlidesAreDecodedOnceAndServedInOrder) {
    // 30 frames: a slide held 10 frames, another held 10, the first again held 10.
    TempDir t;
    write_png(t / "x.png", 24, 12, PngKind::Rgb8, Rgb{10, 200, 10});
    write_png(t / "y.png", 24, 12, PngKind::Rgb8, Rgb{200, 10, 10});
    std::vector<fs::path> files;
    for (int i = 0; i < 30; ++i) {
        const auto p = t / ("f" + std::to_string(i) + ".png");
        fs::copy_file(t / ((i / 10) % 2 == 0 ? "x.png" : "y.png"), p);
        files.push_back(p);
    }
    media::CancelToken cancel;
    media::FramePipeline pipeline(files, media::Canvas{24, 12}, 3, 1 << 20, cancel, nullptr);
    std::vector<media::SharedFrame> out;
    for (int i = 0; i < 30; ++i) out.push_back(pipeline.next());
    for (int i = 1; i < 30; ++i) {
        EXPECT_EQ(out[i] == out[i - 1], i % 10 != 0) << "frame " << i;
    }
    EXPECT_EQ(pipeline.stats().decoded, 2);  // x returns while still among the last two contents
    EXPECT_EQ(pipeline.stats().reused, 28);
}

}  // namespace
}  // namespace renderer::testing
