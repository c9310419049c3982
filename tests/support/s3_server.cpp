#include "support/s3_server.h"

#include <cstdlib>
#include <stdexcept>

#include <fmt/format.h>
#include <httplib.h>

namespace renderer::testing {
namespace {

namespace fs = std::filesystem;

std::string find_node() {
    for (const char* candidate : {"/usr/bin/node", "/usr/local/bin/node", "/usr/bin/nodejs"}) {
        if (fs::exists(candidate)) return candidate;
    }
    throw std::runtime_error("node not found: the storage tests need nodejs (scripts/deps.sh)");
}

// The int after `"key":` in the server's start line.
int port_in(const std::string& out, const std::string& key) {
    const auto at = out.find("\"" + key + "\":");
    if (at == std::string::npos) throw std::runtime_error("no " + key + " in: " + out);
    return std::stoi(out.substr(at + key.size() + 3));
}

// A self-signed P-256 certificate (and its key) for `names`, valid two days: cert.pem and
// key.pem in `dir`.
void make_certificate(const fs::path& dir, const std::vector<std::string>& names) {
    std::string san = "subjectAltName=";
    for (const auto& name : names) {
        const bool ip = name.find_first_not_of("0123456789.") == std::string::npos ||
                        name.find(':') != std::string::npos;
        if (san.back() != '=') san += ',';
        san += (ip ? "IP:" : "DNS:") + name;
    }
    const auto result =
        run_process({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                     "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
                     "/CN=" + names.front(), "-addext", san, "-keyout", (dir / "key.pem").string(),
                     "-out", (dir / "cert.pem").string()});
    if (result.exit_code != 0) {
        throw std::runtime_error(
            "openssl could not make the test certificate (scripts/deps.sh "
            "installs openssl): " +
            result.err);
    }
}

}  // namespace

S3Server::S3Server(const fs::path& dir, S3Identity identity, S3Tls tls)
    : identity_(std::move(identity)) {
    const fs::path node_dir = fs::path(RENDERER_SOURCE_ROOT) / "tests" / "node";
    if (!fs::exists(node_dir / "node_modules" / "s3rver")) {
        throw std::runtime_error("tests/node/node_modules lacks s3rver: run scripts/deps.sh");
    }
    fs::create_directories(dir / "s3rver");
    std::vector<std::string> args{find_node(), "--openssl-legacy-provider",
                                  (node_dir / "s3_test_server.js").string()};
    if (tls.enabled) {
        make_certificate(dir, tls.names);
        certificate_ = dir / "cert.pem";
        args.push_back("--tls-cert=" + certificate_.string());
        args.push_back("--tls-key=" + (dir / "key.pem").string());
    }
    args.insert(args.end(), {(dir / "s3rver").string(), identity_.access_key, identity_.secret_key,
                             identity_.region});
    if (!identity_.session_token.empty()) args.push_back(identity_.session_token);
    child_ = std::make_unique<Child>(args, std::vector<std::string>{"PATH=/usr/bin:/bin"},
                                     dir / "s3_server.log");
    // Node starts slowly on a loaded 2-core machine.
    if (!child_->wait_for_output("\"control_port\":", std::chrono::seconds(60))) {
        throw std::runtime_error("the S3 test server did not start: " + child_->output());
    }
    const auto out = child_->output();
    port_ = port_in(out, "port");
    control_port_ = port_in(out, "control_port");
}

S3Server::~S3Server() = default;

std::string S3Server::endpoint() const {
    return (certificate_.empty() ? "http://127.0.0.1:" : "https://127.0.0.1:") +
           std::to_string(port_);
}

std::string S3Server::control(const std::string& method, const std::string& path,
                              const std::string& body) {
    httplib::Client client("127.0.0.1", control_port_);
    client.set_read_timeout(std::chrono::seconds(120));
    httplib::Result res = method == "PUT"    ? client.Put(path, body, "application/octet-stream")
                          : method == "POST" ? client.Post(path, body, "application/json")
                                             : client.Get(path);
    if (!res || res->status != 200) {
        throw std::runtime_error("S3 test server control " + method + " " + path + " failed: " +
                                 (res ? std::to_string(res->status) + " " + res->body
                                      : httplib::to_string(res.error())));
    }
    return res->body;
}

void S3Server::create_bucket(const std::string& bucket) { control("PUT", "/__bucket/" + bucket); }

void S3Server::put(const std::string& bucket, const std::string& key, const std::string& data) {
    control("PUT", "/__object/" + bucket + "/" + key, data);
}

void S3Server::put_many(const std::string& bucket, const std::string& prefix, int count,
                        const std::string& suffix) {
    control("POST", "/__many/" + bucket + "?prefix=" + prefix + "&count=" + std::to_string(count) +
                        "&suffix=" + suffix);
}

void S3Server::fault(const std::string& method, const std::string& path, const std::string& query,
                     int status, int count, bool truncate, const std::string& location) {
    control("POST", "/__fault",
            "{\"method\":\"" + method + "\",\"path\":\"" + path + "\",\"query\":\"" + query +
                "\",\"status\":" + std::to_string(status) + ",\"count\":" + std::to_string(count) +
                ",\"truncate\":" + (truncate ? "true" : "false") + ",\"location\":\"" + location +
                "\"}");
}

void S3Server::corrupt(const std::string& method, const std::string& path, const std::string& query,
                       int count) {
    control("POST", "/__fault",
            "{\"method\":\"" + method + "\",\"path\":\"" + path + "\",\"query\":\"" + query +
                "\",\"count\":" + std::to_string(count) + ",\"corrupt\":true}");
}

namespace {

// A JSON string literal of `text`.
std::string json_string(const std::string& text) {
    std::string out = "\"";
    for (const char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            out += fmt::format("\\u{:04x}", static_cast<unsigned char>(c));
        } else {
            out += c;
        }
    }
    return out + "\"";
}

}  // namespace

void S3Server::answer(const std::string& method, const std::string& path, const std::string& query,
                      int status, const std::string& body, int count,
                      const std::vector<std::string>& headers) {
    std::string header_object = "{";
    for (const auto& line : headers) {
        const auto colon = line.find(':');
        if (header_object.size() > 1) header_object += ',';
        header_object += json_string(line.substr(0, colon)) + ":" +
                         json_string(line.substr(line.find_first_not_of(' ', colon + 1)));
    }
    header_object += "}";
    control("POST", "/__fault",
            "{\"method\":" + json_string(method) + ",\"path\":" + json_string(path) +
                ",\"query\":" + json_string(query) + ",\"status\":" + std::to_string(status) +
                ",\"count\":" + std::to_string(count) + ",\"body\":" + json_string(body) +
                ",\"headers\":" + header_object + "}");
}

void S3Server::answer_etag(const std::string& method, const std::string& path,
                           const std::string& etag, int count) {
    control("POST", "/__fault",
            "{\"method\":" + json_string(method) + ",\"path\":" + json_string(path) +
                ",\"query\":\"\",\"status\":200,\"count\":" + std::to_string(count) +
                ",\"etag\":" + json_string(etag) + "}");
}

void S3Server::hold(const std::string& method, const std::string& path, const std::string& name,
                    int count) {
    control("POST", "/__fault",
            "{\"method\":" + json_string(method) + ",\"path\":" + json_string(path) +
                ",\"query\":\"\",\"count\":" + std::to_string(count) +
                ",\"hold\":" + json_string(name) + "}");
}

int S3Server::held(const std::string& name) {
    return std::stoi(control("GET", "/__held?name=" + name));
}

void S3Server::release(const std::string& name) { control("POST", "/__release?name=" + name); }

std::string S3Server::presign(const std::string& method, const std::string& path) {
    return control("GET", "/__presign?method=" + method + "&path=" + path);
}

std::string S3Server::request_log() { return control("GET", "/__log"); }

int S3Server::connections() { return port_in(control("GET", "/__connections"), "connections"); }

storage::StorageConfig storage_config_for(const S3Server& server) {
    return storage_config_for(server, server.identity());
}

storage::StorageConfig storage_config_for(const S3Server& server, const S3Identity& identity) {
    storage::StorageConfig c;
    c.credentials =
        storage::S3Credentials{identity.access_key, identity.secret_key, identity.session_token};
    c.region = identity.region;
    c.endpoint = server.endpoint();
    if (!server.certificate().empty()) c.ca_bundle = server.certificate();
    c.limits.min_free_bytes = 1 << 20;
    return c;
}

int count_of(const std::string& haystack, const std::string& needle) {
    int n = 0;
    for (auto at = haystack.find(needle); at != std::string::npos;
         at = haystack.find(needle, at + 1)) {
        ++n;
    }
    return n;
}

}  // namespace renderer::testing
