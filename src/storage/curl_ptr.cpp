#include "storage/curl_ptr.h"

#include <mutex>

namespace renderer::storage {

void ensure_curl_global_init() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace renderer::storage
