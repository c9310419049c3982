#include "worker/api_messages.h"

#include <charconv>
#include <cmath>
#include <limits>

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "common/error.h"
#include "common/json_parse.h"
#include "common/log.h"
#include "common/paths.h"
#include "common/time_format.h"
#include "common/utf8.h"

namespace renderer::worker {
namespace {

using rapidjson::Value;

constexpr std::size_t kMaxLoggedIdChars = 128;
constexpr int kMaxLeaseSeconds = 24 * 3600;

[[noreturn]] void bad_answer(std::string message) {
    throw Error(ErrorClass::ApiError, std::move(message));
}

// Iterative and depth-capped: an answer nested 200 KB deep must not crash the worker.
rapidjson::Document parse_json(std::string_view body, std::string_view what) {
    rapidjson::Document doc;
    if (auto error = parse_untrusted_json(body, doc); !error.empty())
        bad_answer(fmt::format("{} is not valid JSON: {}", what, error));
    return doc;
}

// Absent and null both mean "not given".
const Value* member(const Value& obj, const char* key) {
    const auto it = obj.FindMember(key);
    if (it == obj.MemberEnd() || it->value.IsNull()) return nullptr;
    return &it->value;
}

std::string text_of(const Value& v) { return std::string(v.GetString(), v.GetStringLength()); }

// Redacted before it is cut, so a cut never leaves the start of a secret behind; cut between
// characters and with invalid bytes escaped, so the log line stays valid UTF-8.
std::string for_log(std::string s) {
    return quotable_utf8(log::redacted(std::move(s)), kMaxLoggedIdChars);
}

// The three ids become path components and URL segments: anything unsafe rejects the job.
std::optional<RejectedJob> check_ids(const Value& obj, Job& job) {
    std::string raw_id;
    if (const auto* v = member(obj, "id"); v && v->IsString()) raw_id = text_of(*v);
    const auto reject = [&](std::string reason) {
        return RejectedJob{for_log(raw_id), std::move(reason)};
    };
    for (const char* key : {"id", "story_id", "part_id"}) {
        const auto* v = member(obj, key);
        if (v == nullptr || !v->IsString())
            return reject(fmt::format("{} is missing or not a string", key));
        auto s = text_of(*v);
        if (!is_safe_id(s)) {
            return reject(
                fmt::format("{} '{}' is not a safe id (1-128 of [A-Za-z0-9._-], no leading dot)",
                            key, for_log(s)));
        }
        if (key == std::string_view("id"))
            job.id = std::move(s);
        else if (key == std::string_view("story_id"))
            job.story_id = std::move(s);
        else
            job.part_id = std::move(s);
    }
    return std::nullopt;
}

// Optional fields: a wrong type is remembered as the job's input error (first one wins).
void note(Job& job, std::string message) {
    if (!job.input_error) job.input_error = std::move(message);
}

std::optional<std::string> opt_string(const Value& obj, const char* key, Job& job) {
    const auto* v = member(obj, key);
    if (v == nullptr) return std::nullopt;
    if (!v->IsString()) {
        note(job, fmt::format("{} must be a string", key));
        return std::nullopt;
    }
    return text_of(*v);
}

std::optional<int> opt_int(const Value& obj, const char* key, int min, int max, Job& job,
                           const char* label) {
    const auto* v = member(obj, key);
    if (v == nullptr) return std::nullopt;
    if (!v->IsInt() || v->GetInt() < min || v->GetInt() > max) {
        note(job, fmt::format("{} must be an integer from {} to {}", label, min, max));
        return std::nullopt;
    }
    return v->GetInt();
}

void parse_job(const Value& obj, JobList& out) {
    if (!obj.IsObject()) {
        out.rejected.push_back({"", "a listed job is not a JSON object"});
        return;
    }
    Job job;
    if (auto rejected = check_ids(obj, job)) {
        out.rejected.push_back(std::move(*rejected));
        return;
    }
    job.claim_url = opt_string(obj, "claim_url", job);
    job.lease_seconds = opt_int(obj, "lease_seconds", 1, kMaxLeaseSeconds, job, "lease_seconds");
    job.frames_dir = opt_string(obj, "frames_dir", job);
    job.music_track = opt_string(obj, "music_track", job);
    job.frames_url = opt_string(obj, "frames_url", job);
    job.music_url = opt_string(obj, "music_url", job);
    job.output_url = opt_string(obj, "output_url", job);
    if (const auto* render = member(obj, "render")) {
        if (!render->IsObject()) {
            note(job, "render must be a JSON object");
        } else {
            // Ranges are checked later by media::validate, with the media layer's own messages.
            job.render.fps = opt_int(*render, "fps", std::numeric_limits<int>::min(),
                                     std::numeric_limits<int>::max(), job, "render.fps");
            job.render.crf = opt_int(*render, "crf", std::numeric_limits<int>::min(),
                                     std::numeric_limits<int>::max(), job, "render.crf");
            job.render.codec = opt_string(*render, "codec", job);
            if (const auto* preset = member(*render, "preset")) {
                if (preset->IsString())
                    job.render.preset = text_of(*preset);
                else if (preset->IsInt())  // SVT-AV1's presets are numbers
                    job.render.preset = std::to_string(preset->GetInt());
                else
                    note(job, "render.preset must be a string or an integer");
            }
            constexpr int kAny = std::numeric_limits<int>::max();
            job.render.audio_fit = opt_string(*render, "audio_fit", job);
            job.render.audio_fade_in_ms =
                opt_int(*render, "audio_fade_in_ms", -kAny, kAny, job, "render.audio_fade_in_ms");
            job.render.audio_fade_out_ms =
                opt_int(*render, "audio_fade_out_ms", -kAny, kAny, job, "render.audio_fade_out_ms");
            if (const auto* v = member(*render, "audio_loudness")) {
                // "off", or a target as a number (or as text: "-16").
                if (v->IsString())
                    job.render.audio_loudness = text_of(*v);
                else if (v->IsNumber())
                    job.render.audio_loudness = fmt::format("{}", v->GetDouble());
                else
                    note(job, "render.audio_loudness must be \"off\" or a number of LUFS");
            }
            if (const auto* v = member(*render, "audio_true_peak")) {
                if (v->IsNumber())
                    job.render.audio_true_peak = v->GetDouble();
                else
                    note(job, "render.audio_true_peak must be a number of dBTP");
            }
            job.render.frame_timing = opt_string(*render, "frame_timing", job);
            job.render.keyint_sec =
                opt_int(*render, "keyint_sec", -kAny, kAny, job, "render.keyint_sec");
        }
    }
    out.jobs.push_back(std::move(job));
}

std::optional<std::int64_t> parse_depth_header(const std::optional<std::string>& header) {
    if (!header) return std::nullopt;
    std::int64_t n = 0;
    const auto* begin = header->data();
    const auto* end = begin + header->size();
    const auto [ptr, ec] = std::from_chars(begin, end, n);
    if (ec != std::errc{} || ptr != end || n < 0) return std::nullopt;
    return n;
}

template <typename W>
void put(W& w, const char* key, const std::string& value) {
    w.Key(key);
    w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

}  // namespace

JobList parse_job_list(std::string_view body,
                       const std::optional<std::string>& queue_depth_header) {
    const auto doc = parse_json(body, "the job list");
    JobList out;
    const Value* jobs = nullptr;
    std::optional<std::int64_t> depth;
    if (doc.IsArray()) {
        jobs = &doc;
    } else if (doc.IsObject()) {
        jobs = member(doc, "jobs");
        if (jobs == nullptr || !jobs->IsArray())
            bad_answer("the job list object has no \"jobs\" array");
        if (const auto* d = member(doc, "queue_depth")) {
            if (!d->IsInt64() || d->GetInt64() < 0)
                bad_answer("queue_depth must be a non-negative integer");
            depth = d->GetInt64();
        }
    } else {
        bad_answer("the job list must be a JSON array or an object with a \"jobs\" array");
    }
    for (const auto& item : jobs->GetArray()) parse_job(item, out);
    if (!depth) depth = parse_depth_header(queue_depth_header);
    out.queue_depth = depth.value_or(static_cast<std::int64_t>(jobs->Size()));
    return out;
}

LeaseGrant parse_lease_grant(std::string_view body, bool require_expiry) {
    LeaseGrant grant;
    if (!require_expiry && body.find_first_not_of(" \t\r\n") == std::string_view::npos)
        return grant;
    const auto doc = parse_json(body, "the lease answer");
    if (!doc.IsObject()) bad_answer("the lease answer must be a JSON object");
    if (const auto* v = member(doc, "lease_expires_at")) {
        if (!v->IsString()) bad_answer("lease_expires_at must be an RFC 3339 string");
        grant.expires_at_text = text_of(*v);
        grant.expires_at = parse_rfc3339(grant.expires_at_text);
        if (!grant.expires_at) {
            bad_answer(fmt::format("lease_expires_at '{}' is not an RFC 3339 time",
                                   for_log(grant.expires_at_text)));
        }
    } else if (require_expiry) {
        bad_answer("the claim answer has no lease_expires_at");
    }
    if (const auto* v = member(doc, "lease_token")) {
        if (!v->IsString()) bad_answer("lease_token must be a string");
        grant.lease_token = text_of(*v);
    }
    if (const auto* v = member(doc, "lease_seconds")) {
        if (!v->IsInt() || v->GetInt() < 1 || v->GetInt() > kMaxLeaseSeconds) {
            bad_answer("lease_seconds must be a positive integer");
        }
        grant.lease_seconds = v->GetInt();
    }
    return grant;
}

std::string status_body(const StatusUpdate& u, const std::optional<std::string>& lease_token) {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    w.StartObject();
    put(w, "status", u.status);
    if (lease_token) put(w, "lease_token", *lease_token);
    if (u.artifact_path) put(w, "artifact_path", *u.artifact_path);
    if (u.bytes) {
        w.Key("bytes");
        w.Uint64(*u.bytes);
    }
    if (u.duration_ms) {
        w.Key("duration_ms");
        w.Int64(*u.duration_ms);
    }
    if (u.audio_track) put(w, "audio_track", *u.audio_track);
    for (const auto& [key, value] :
         {std::pair{"loudness_lufs", u.loudness_lufs},
          std::pair{"true_peak_dbtp", u.true_peak_dbtp}, std::pair{"gain_db", u.gain_db}}) {
        if (!value || !std::isfinite(*value)) continue;  // a silent track has no loudness to state
        w.Key(key);
        w.Double(*value);
    }
    if (u.error_class) put(w, "error_class", *u.error_class);
    // Failure texts can quote what the API sent (an echoed token); they leave redacted too.
    if (u.error_message) put(w, "error_message", log::redacted(*u.error_message));
    if (u.stderr_snippet) put(w, "stderr_snippet", log::redacted(*u.stderr_snippet));
    if (u.timeout) {
        w.Key("timeout");
        w.Bool(*u.timeout);
    }
    w.EndObject();
    return {buf.GetString(), buf.GetSize()};
}

std::string claim_body(std::string_view worker_name) {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    w.StartObject();
    put(w, "worker", std::string(worker_name));
    w.EndObject();
    return {buf.GetString(), buf.GetSize()};
}

std::string heartbeat_body(const std::optional<std::string>& lease_token) {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    w.StartObject();
    if (lease_token) put(w, "lease_token", *lease_token);
    w.EndObject();
    return {buf.GetString(), buf.GetSize()};
}

}  // namespace renderer::worker
