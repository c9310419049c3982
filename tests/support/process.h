// Runs a program (the real `renderer` binary) as a child process with extra env vars, capturing
// stdout and stderr, killed if it outlives its timeout.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace renderer::testing {

struct RunResult {
    int exit_code = -1;  // 128 + signal when killed by one
    std::string out;
    std::string err;
    bool timed_out = false;
};

RunResult run_process(const std::vector<std::string>& argv,
                      const std::vector<std::pair<std::string, std::string>>& env = {},
                      std::chrono::seconds timeout = std::chrono::seconds(120));

// $RENDERER_BIN (set by meson) or the build tree's src/app/renderer.
std::string renderer_bin();
// The sanitizer settings of this process (ASAN_OPTIONS, UBSAN_OPTIONS, LSAN_OPTIONS) as
// "NAME=value" entries, for children started with an environment of their own: a child under
// ASan must halt on the same errors and use the same suppressions as its parent.
std::vector<std::string> sanitizer_env();

// $RENDERER_DEVAPI_BIN (set by meson) or the build tree's src/app/renderer-devapi.
std::string devapi_bin();

// A child process running in the background with stdout and stderr going to one file; killed
// (SIGKILL) and reaped when the object goes away if it has not exited by then.
class Child {
  public:
    // `env` is the child's whole environment ("NAME=value" entries).
    Child(const std::vector<std::string>& args, const std::vector<std::string>& env,
          std::filesystem::path out);
    ~Child();
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;

    // The exit code (128 + signal when killed by one), or nullopt when it did not exit within
    // `limit` (it is left running).
    std::optional<int> wait(std::chrono::milliseconds limit);
    // True once `needle` appears in the output; false after `limit` or when the child exited
    // without printing it.
    bool wait_for_output(const std::string& needle, std::chrono::milliseconds limit);
    bool running();

    void signal(int sig);
    std::string output() const;
    int pid() const { return pid_; }
    const std::filesystem::path& output_path() const { return out_; }

  private:
    std::filesystem::path out_;
    int pid_ = -1;
    bool exited_ = false;
    int exit_code_ = -1;
};

}  // namespace renderer::testing
