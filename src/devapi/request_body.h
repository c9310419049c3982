// Parsing and validation of the reference API's request bodies. Anything malformed throws
// BadRequest with a message naming the field, which the server answers as 400.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "devapi/job.h"

namespace renderer::devapi {

class BadRequest : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// POST /api/render-jobs. The id defaults to "<story_id>-<part_id>"; every id must be safe to
// use as a path component.
JobSpec parse_create_body(std::string_view body);

struct StatusPost {
    JobStatus status = JobStatus::Rendering;
    std::optional<std::string> lease_token;
    StatusReport report;
};

// POST /api/render-jobs/{id}/status. `rendered` requires artifact_path and bytes.
StatusPost parse_status_body(std::string_view body);

// The optional bodies of claim ({"worker"}) and heartbeat ({"lease_token"}); empty is fine.
struct LeaseRequest {
    std::optional<std::string> worker;
    std::optional<std::string> lease_token;
};

LeaseRequest parse_lease_body(std::string_view body);

}  // namespace renderer::devapi
