#include "devapi/request_body.h"

#include <cstdint>

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "common/json_parse.h"
#include "common/paths.h"

namespace renderer::devapi {
namespace {

constexpr int kMaxLeaseSeconds = 24 * 3600;

// Iterative and depth-capped: a body nested 200 KB deep must not crash the server, and the
// `render` object is re-serialized (a recursive walk) only once its depth is known to be small.
rapidjson::Document parse_object(std::string_view body) {
    rapidjson::Document doc;
    if (auto error = parse_untrusted_json(body, doc); !error.empty())
        throw BadRequest(fmt::format("body is not valid JSON: {}", error));
    if (!doc.IsObject()) throw BadRequest("body must be a JSON object");
    return doc;
}

// A member that is absent or null counts as not given; any other wrong type is an error.
const rapidjson::Value* member(const rapidjson::Value& obj, const char* key) {
    const auto it = obj.FindMember(key);
    if (it == obj.MemberEnd() || it->value.IsNull()) return nullptr;
    return &it->value;
}

std::optional<std::string> opt_string(const rapidjson::Value& obj, const char* key) {
    const auto* v = member(obj, key);
    if (v == nullptr) return std::nullopt;
    if (!v->IsString()) throw BadRequest(fmt::format("{} must be a string", key));
    return std::string(v->GetString(), v->GetStringLength());
}

std::string req_string(const rapidjson::Value& obj, const char* key) {
    auto s = opt_string(obj, key);
    if (!s) throw BadRequest(fmt::format("{} is required", key));
    return *s;
}

std::optional<std::int64_t> opt_int(const rapidjson::Value& obj, const char* key, std::int64_t min,
                                    std::int64_t max) {
    const auto* v = member(obj, key);
    if (v == nullptr) return std::nullopt;
    if (!v->IsInt64() || v->GetInt64() < min || v->GetInt64() > max) {
        throw BadRequest(fmt::format("{} must be an integer from {} to {}", key, min, max));
    }
    return v->GetInt64();
}

std::optional<double> opt_double(const rapidjson::Value& obj, const char* key) {
    const auto* v = member(obj, key);
    if (v == nullptr) return std::nullopt;
    if (!v->IsNumber()) throw BadRequest(fmt::format("{} must be a number", key));
    return v->GetDouble();
}

std::optional<bool> opt_bool(const rapidjson::Value& obj, const char* key) {
    const auto* v = member(obj, key);
    if (v == nullptr) return std::nullopt;
    if (!v->IsBool()) throw BadRequest(fmt::format("{} must be a boolean", key));
    return v->GetBool();
}

std::string safe_id(std::string id, const char* key) {
    if (!is_safe_id(id)) {
        throw BadRequest(fmt::format(
            "{} must be 1-128 characters of [A-Za-z0-9._-] not starting with '.'", key));
    }
    return id;
}

}  // namespace

JobSpec parse_create_body(std::string_view body) {
    const auto doc = parse_object(body);
    JobSpec spec;
    spec.story_id = safe_id(req_string(doc, "story_id"), "story_id");
    spec.part_id = safe_id(req_string(doc, "part_id"), "part_id");
    spec.id = safe_id(opt_string(doc, "id").value_or(spec.story_id + "-" + spec.part_id), "id");
    spec.frames_dir = opt_string(doc, "frames_dir");
    spec.music_track = opt_string(doc, "music_track");
    spec.frames_url = opt_string(doc, "frames_url");
    spec.music_url = opt_string(doc, "music_url");
    spec.output_url = opt_string(doc, "output_url");
    if (const auto* render = member(doc, "render")) {
        if (!render->IsObject()) throw BadRequest("render must be a JSON object");
        rapidjson::StringBuffer buf;
        rapidjson::Writer<rapidjson::StringBuffer> w(buf);
        render->Accept(w);
        spec.render_json = std::string(buf.GetString(), buf.GetSize());
    }
    spec.lease_seconds =
        static_cast<int>(opt_int(doc, "lease_seconds", 1, kMaxLeaseSeconds).value_or(0));
    return spec;
}

StatusPost parse_status_body(std::string_view body) {
    const auto doc = parse_object(body);
    StatusPost post;
    const auto status_text = req_string(doc, "status");
    const auto status = parse_status(status_text);
    // queued and claimed are the API's to set, never a worker's.
    if (!status || *status == JobStatus::Queued || *status == JobStatus::Claimed) {
        throw BadRequest(
            fmt::format("status must be rendering, rendered or errored; got '{}'", status_text));
    }
    post.status = *status;
    post.lease_token = opt_string(doc, "lease_token");
    auto& r = post.report;
    r.artifact_path = opt_string(doc, "artifact_path");
    r.bytes = opt_int(doc, "bytes", 0, INT64_MAX);
    r.duration_ms = opt_int(doc, "duration_ms", 0, INT64_MAX);
    r.audio_track = opt_string(doc, "audio_track");
    r.loudness_lufs = opt_double(doc, "loudness_lufs");
    r.true_peak_dbtp = opt_double(doc, "true_peak_dbtp");
    r.gain_db = opt_double(doc, "gain_db");
    r.error_class = opt_string(doc, "error_class");
    r.error_message = opt_string(doc, "error_message");
    r.stderr_snippet = opt_string(doc, "stderr_snippet");
    r.timeout = opt_bool(doc, "timeout");
    if (post.status == JobStatus::Rendered && (!r.artifact_path || !r.bytes)) {
        throw BadRequest("status rendered requires artifact_path (string) and bytes (integer)");
    }
    return post;
}

LeaseRequest parse_lease_body(std::string_view body) {
    LeaseRequest req;
    if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return req;
    const auto doc = parse_object(body);
    req.worker = opt_string(doc, "worker");
    req.lease_token = opt_string(doc, "lease_token");
    return req;
}

}  // namespace renderer::devapi
