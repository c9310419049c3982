// A one-line progress bar on stderr for interactive `renderer render` runs.
#pragma once

#include <string>

#include "media/render_settings.h"

namespace renderer::app {

class ProgressBar {
  public:
    ProgressBar(bool enabled, std::string label) : enabled_(enabled), label_(std::move(label)) {}
    ~ProgressBar() { finish(); }
    void update(const media::Progress& p);
    void finish();

  private:
    bool enabled_;
    bool drawn_ = false;
    std::string label_;
};

}  // namespace renderer::app
