// Cooperative cancellation checked once per frame: the first reason set wins.
#pragma once

#include <atomic>
#include <optional>

#include "common/error.h"

namespace renderer::media {

class CancelToken {
  public:
    // Returns true when this call set the reason (the first cancel wins).
    bool cancel(ErrorClass reason) {
        int expected = kNone;
        return reason_.compare_exchange_strong(expected, static_cast<int>(reason));
    }
    std::optional<ErrorClass> reason() const {
        const int r = reason_.load(std::memory_order_relaxed);
        if (r == kNone) return std::nullopt;
        return static_cast<ErrorClass>(r);
    }
    bool cancelled() const { return reason_.load(std::memory_order_relaxed) != kNone; }

  private:
    static constexpr int kNone = -1;
    std::atomic<int> reason_{kNone};
};

}  // namespace renderer::media
