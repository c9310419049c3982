// libcurl ownership in one place: a deleter per libcurl type and unique_ptr aliases, so no
// curl_*_cleanup or curl_free is called anywhere else.
#pragma once

#include <memory>

#include <curl/curl.h>

namespace renderer::storage {

struct CurlEasyDeleter {
    void operator()(CURL* handle) const noexcept { curl_easy_cleanup(handle); }
};
struct CurlMultiDeleter {
    void operator()(CURLM* multi) const noexcept { curl_multi_cleanup(multi); }
};
struct CurlSlistDeleter {
    void operator()(curl_slist* list) const noexcept { curl_slist_free_all(list); }
};
struct CurlUrlDeleter {
    void operator()(CURLU* url) const noexcept { curl_url_cleanup(url); }
};
struct CurlFreeDeleter {
    void operator()(char* text) const noexcept { curl_free(text); }
};

using CurlEasyPtr = std::unique_ptr<CURL, CurlEasyDeleter>;
// Easy handles must be removed from a multi handle before either is cleaned up.
using CurlMultiPtr = std::unique_ptr<CURLM, CurlMultiDeleter>;
using CurlSlistPtr = std::unique_ptr<curl_slist, CurlSlistDeleter>;
using CurlUrlPtr = std::unique_ptr<CURLU, CurlUrlDeleter>;
using CurlStringPtr = std::unique_ptr<char, CurlFreeDeleter>;

// curl_global_init is not safe to race with other libcurl calls: every entry point that uses
// libcurl (here and in worker/) calls this first (it runs the init once per process).
void ensure_curl_global_init();

}  // namespace renderer::storage
