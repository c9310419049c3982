// Proves that no file but the input was opened: an inotify watch (IN_OPEN) on each named file.
// atime is no use here (relatime/noatime mounts); inotify sees every open(2) of the inode, by
// any process, read-only opens included.
#pragma once

#include <filesystem>
#include <vector>

namespace renderer::testing {

class OpenTripwire {
  public:
    explicit OpenTripwire(const std::vector<std::filesystem::path>& files);
    ~OpenTripwire();
    OpenTripwire(const OpenTripwire&) = delete;
    OpenTripwire& operator=(const OpenTripwire&) = delete;

    // How many opens of the watched files happened since the watch was set.
    int opens();

  private:
    int fd_ = -1;
    int opens_ = 0;
};

}  // namespace renderer::testing
