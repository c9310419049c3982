#include "devapi/job_json.h"

#include <fmt/format.h>

namespace renderer::devapi {
namespace {

void put(JsonWriter& w, std::string_view key, std::string_view value) {
    w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
    w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

void put(JsonWriter& w, std::string_view key, std::int64_t value) {
    w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
    w.Int64(value);
}

void put_opt(JsonWriter& w, std::string_view key, const std::optional<std::string>& value) {
    if (value) put(w, key, *value);
}

void put_opt(JsonWriter& w, std::string_view key, const std::optional<std::int64_t>& value) {
    if (value) put(w, key, *value);
}

void put_opt(JsonWriter& w, std::string_view key, const std::optional<double>& value) {
    if (!value) return;
    w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
    w.Double(*value);
}

void write_report_fields(JsonWriter& w, const StatusReport& r) {
    put_opt(w, "artifact_path", r.artifact_path);
    put_opt(w, "bytes", r.bytes);
    put_opt(w, "duration_ms", r.duration_ms);
    put_opt(w, "audio_track", r.audio_track);
    put_opt(w, "loudness_lufs", r.loudness_lufs);
    put_opt(w, "true_peak_dbtp", r.true_peak_dbtp);
    put_opt(w, "gain_db", r.gain_db);
    put_opt(w, "error_class", r.error_class);
    put_opt(w, "error_message", r.error_message);
    put_opt(w, "stderr_snippet", r.stderr_snippet);
    if (r.timeout) {
        w.Key("timeout");
        w.Bool(*r.timeout);
    }
}

void write_summary_fields(JsonWriter& w, const Job& job, bool with_lease_seconds) {
    const auto& s = job.spec;
    put(w, "id", s.id);
    put(w, "story_id", s.story_id);
    put(w, "part_id", s.part_id);
    put(w, "status", to_string(job.status));
    put(w, "claim_url", fmt::format("/api/render-jobs/{}/claim", s.id));
    if (with_lease_seconds) put(w, "lease_seconds", s.lease_seconds);
    put_opt(w, "frames_dir", s.frames_dir);
    put_opt(w, "music_track", s.music_track);
    put_opt(w, "frames_url", s.frames_url);
    put_opt(w, "music_url", s.music_url);
    put_opt(w, "output_url", s.output_url);
    if (s.render_json) {
        // Validated and serialized by the writer when the job was created.
        w.Key("render");
        w.RawValue(s.render_json->data(), s.render_json->size(), rapidjson::kObjectType);
    }
}

}  // namespace

void write_job_summary(JsonWriter& w, const Job& job, bool with_lease_seconds) {
    w.StartObject();
    write_summary_fields(w, job, with_lease_seconds);
    w.EndObject();
}

void write_job_detail(JsonWriter& w, const Job& job) {
    w.StartObject();
    write_summary_fields(w, job, true);
    put(w, "attempts", job.claims);
    put(w, "lease_expirations", job.lease_expirations);
    put(w, "heartbeats", job.heartbeats);
    if (!job.worker.empty()) put(w, "worker", job.worker);
    if (holds_lease(job.status)) put(w, "lease_expires_at", to_rfc3339(job.lease_expires_at));
    write_report_fields(w, job.last_report);
    w.Key("history");
    w.StartArray();
    for (const auto& h : job.history) {
        w.StartObject();
        put(w, "status", to_string(h.status));
        put(w, "at", to_rfc3339(h.at));
        if (!h.worker.empty()) put(w, "worker", h.worker);
        if (!h.reason.empty()) put(w, "reason", h.reason);
        write_report_fields(w, h.report);
        w.EndObject();
    }
    w.EndArray();
    w.EndObject();
}

void write_lease(JsonWriter& w, const JobStore::Lease& lease, bool with_token,
                 bool with_lease_seconds) {
    w.StartObject();
    put(w, "lease_expires_at", to_rfc3339(lease.expires_at));
    if (with_token) put(w, "lease_token", lease.token);
    if (with_lease_seconds) put(w, "lease_seconds", lease.seconds);
    w.EndObject();
}

void write_stats(JsonWriter& w, const JobStore::Stats& stats) {
    w.StartObject();
    put(w, "total", static_cast<std::int64_t>(stats.total));
    w.Key("by_status");
    w.StartObject();
    for (const auto status : kAllStatuses) {
        put(w, to_string(status),
            static_cast<std::int64_t>(stats.by_status[static_cast<std::size_t>(status)]));
    }
    w.EndObject();
    put(w, "claims", stats.claims);
    put(w, "lease_expirations", stats.lease_expirations);
    put(w, "heartbeats", stats.heartbeats);
    w.EndObject();
}

std::string error_json(std::string_view code, std::string_view message) {
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    w.StartObject();
    put(w, "error", code);
    put(w, "message", message);
    w.EndObject();
    return {buf.GetString(), buf.GetSize()};
}

}  // namespace renderer::devapi
