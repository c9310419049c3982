// libcurl's ownership types live with the storage library, the lowest layer that speaks HTTP;
// the worker uses the same ones.
#pragma once

#include "storage/curl_ptr.h"

namespace renderer::worker {

using storage::CurlEasyPtr;
using storage::CurlSlistPtr;
using storage::CurlStringPtr;
using storage::CurlUrlPtr;
using storage::ensure_curl_global_init;

}  // namespace renderer::worker
