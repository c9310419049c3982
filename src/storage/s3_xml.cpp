#include "storage/s3_xml.h"

#include <charconv>
#include <functional>

#include <expat.h>
#include <fmt/format.h>

#include "common/error.h"

namespace renderer::storage {
namespace {

// Calls `on_text(path, text)` for each element's text, `path` the element names from the root
// joined with '/' ("ListBucketResult/Contents/Key"), and `on_end(path)` as each element closes.
// Namespaces are ignored (S3's answers put everything in one). False when the document is not
// well-formed or declares a DOCTYPE.
struct Walker {
    std::function<void(const std::string&, const std::string&)> on_text;
    std::function<void(const std::string&)> on_end;
    std::string path;
    std::string text;
    bool doctype = false;
};

void XMLCALL start_element(void* user, const XML_Char* name, const XML_Char**) {
    auto* w = static_cast<Walker*>(user);
    if (!w->path.empty()) w->path += '/';
    w->path += name;
    w->text.clear();
}

void XMLCALL end_element(void* user, const XML_Char*) {
    auto* w = static_cast<Walker*>(user);
    if (w->on_text) w->on_text(w->path, w->text);
    if (w->on_end) w->on_end(w->path);
    w->text.clear();
    const auto slash = w->path.rfind('/');
    w->path.erase(slash == std::string::npos ? 0 : slash);
}

void XMLCALL character_data(void* user, const XML_Char* s, int len) {
    static_cast<Walker*>(user)->text.append(s, static_cast<std::size_t>(len));
}

void XMLCALL start_doctype(void* user, const XML_Char*, const XML_Char*, const XML_Char*, int) {
    static_cast<Walker*>(user)->doctype = true;
}

bool walk(std::string_view xml, Walker& w) {
    // S3 answers a slow request (CompleteMultipartUpload) 200 at once and keeps the connection
    // alive with whitespace before the document, where XML allows none: skipped, or a failure
    // reported in the <Error> after it would be missed.
    while (!xml.empty() && (xml.front() == ' ' || xml.front() == '\t' || xml.front() == '\r' ||
                            xml.front() == '\n'))
        xml.remove_prefix(1);
    std::unique_ptr<XML_ParserStruct, decltype(&XML_ParserFree)> parser(XML_ParserCreate("UTF-8"),
                                                                        &XML_ParserFree);
    if (!parser) throw std::bad_alloc();
    XML_SetUserData(parser.get(), &w);
    XML_SetElementHandler(parser.get(), start_element, end_element);
    XML_SetCharacterDataHandler(parser.get(), character_data);
    XML_SetStartDoctypeDeclHandler(parser.get(), start_doctype);
    XML_SetParamEntityParsing(parser.get(), XML_PARAM_ENTITY_PARSING_NEVER);
    const auto ok = XML_Parse(parser.get(), xml.data(), static_cast<int>(xml.size()), XML_TRUE);
    return ok == XML_STATUS_OK && !w.doctype;
}

[[noreturn]] void bad_answer(std::string_view what) {
    throw Error(ErrorClass::IoError, fmt::format("the storage answered {}", what));
}

}  // namespace

ListPage parse_list_page(std::string_view xml) {
    ListPage page;
    ListedObject current;
    bool is_list = false;
    std::string truncated;
    Walker w;
    w.on_text = [&](const std::string& path, const std::string& text) {
        if (path == "ListBucketResult") is_list = true;
        if (path == "ListBucketResult/IsTruncated") truncated = text;
        if (path == "ListBucketResult/NextContinuationToken") page.next_token = text;
        if (path == "ListBucketResult/Contents/Key") current.key = text;
        if (path == "ListBucketResult/Contents/ETag") current.etag = text;
        if (path == "ListBucketResult/Contents/Size") {
            const auto [end, ec] =
                std::from_chars(text.data(), text.data() + text.size(), current.size);
            if (ec != std::errc() || end != text.data() + text.size())
                bad_answer(fmt::format("a listing with a malformed Size '{}'", text.substr(0, 40)));
        }
    };
    w.on_end = [&](const std::string& path) {
        if (path == "ListBucketResult/Contents") {
            page.objects.push_back(std::move(current));
            current = {};
        }
        if (path == "ListBucketResult/CommonPrefixes") ++page.common_prefixes;
    };
    if (xml.size() > static_cast<std::size_t>(INT32_MAX) || !walk(xml, w) || !is_list)
        bad_answer("something that is not a ListObjectsV2 page");
    page.truncated = truncated == "true";
    if (page.truncated && page.next_token.empty())
        bad_answer("a truncated listing without a continuation token");
    return page;
}

std::string parse_upload_id(std::string_view xml) {
    std::string id;
    Walker w;
    w.on_text = [&](const std::string& path, const std::string& text) {
        if (path == "InitiateMultipartUploadResult/UploadId") id = text;
    };
    if (xml.size() > static_cast<std::size_t>(INT32_MAX) || !walk(xml, w) || id.empty())
        bad_answer("no UploadId to a request to start a multipart upload");
    return id;
}

std::string parse_complete_result(std::string_view xml) {
    std::string etag;
    bool is_result = false;
    Walker w;
    w.on_text = [&](const std::string& path, const std::string& text) {
        if (path == "CompleteMultipartUploadResult") is_result = true;
        if (path == "CompleteMultipartUploadResult/ETag") etag = text.substr(0, 256);
    };
    if (xml.size() > static_cast<std::size_t>(INT32_MAX) || !walk(xml, w) || !is_result)
        bad_answer("no CompleteMultipartUploadResult to a request to complete a multipart upload");
    return etag;
}

std::optional<S3ErrorBody> parse_error_body(std::string_view xml) {
    S3ErrorBody e;
    bool is_error = false;
    Walker w;
    w.on_text = [&](const std::string& path, const std::string& text) {
        if (path == "Error") is_error = true;
        if (path == "Error/Code") e.code = text.substr(0, 64);
        if (path == "Error/Message") e.message = text.substr(0, 300);
    };
    if (xml.size() > static_cast<std::size_t>(INT32_MAX) || !walk(xml, w) || !is_error)
        return std::nullopt;
    return e;
}

}  // namespace renderer::storage
