// JSON answers of the reference API, every one built with rapidjson::Writer so values are
// always escaped.
#pragma once

#include <string>
#include <string_view>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "devapi/job_store.h"

namespace renderer::devapi {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

// What GET /api/render-jobs lists: the fields a worker needs to claim and render.
// `with_lease_seconds` false leaves lease_seconds out, as APIs that state only an expiry do.
void write_job_summary(JsonWriter& w, const Job& job, bool with_lease_seconds = true);
// GET /api/render-jobs/{id}: the summary plus lease, counters, last report and full history.
void write_job_detail(JsonWriter& w, const Job& job);
void write_lease(JsonWriter& w, const JobStore::Lease& lease, bool with_token,
                 bool with_lease_seconds = true);
void write_stats(JsonWriter& w, const JobStore::Stats& stats);

// {"error": code, "message": message}
std::string error_json(std::string_view code, std::string_view message);

}  // namespace renderer::devapi
