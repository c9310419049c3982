#include "common/json_parse.h"

#include <fmt/format.h>
#include <rapidjson/encodedstream.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

namespace renderer {
namespace {

using rapidjson::SizeType;

// Passes the reader's events on to the document, refusing (which stops the parse) to open a
// container deeper than the cap.
class DepthLimit {
  public:
    DepthLimit(rapidjson::Document& doc, int max_depth) : doc_(doc), max_depth_(max_depth) {}

    bool Null() { return doc_.Null(); }
    bool Bool(bool b) { return doc_.Bool(b); }
    bool Int(int i) { return doc_.Int(i); }
    bool Uint(unsigned u) { return doc_.Uint(u); }
    bool Int64(std::int64_t i) { return doc_.Int64(i); }
    bool Uint64(std::uint64_t u) { return doc_.Uint64(u); }
    bool Double(double d) { return doc_.Double(d); }
    bool RawNumber(const char* s, SizeType n, bool copy) { return doc_.RawNumber(s, n, copy); }
    bool String(const char* s, SizeType n, bool copy) { return doc_.String(s, n, copy); }
    bool Key(const char* s, SizeType n, bool copy) { return doc_.Key(s, n, copy); }
    bool StartObject() { return open() && doc_.StartObject(); }
    bool EndObject(SizeType members) {
        --depth_;
        return doc_.EndObject(members);
    }
    bool StartArray() { return open() && doc_.StartArray(); }
    bool EndArray(SizeType elements) {
        --depth_;
        return doc_.EndArray(elements);
    }

    bool too_deep() const { return too_deep_; }

  private:
    bool open() {
        if (++depth_ <= max_depth_) return true;
        too_deep_ = true;
        return false;
    }

    rapidjson::Document& doc_;
    const int max_depth_;
    int depth_ = 0;
    bool too_deep_ = false;
};

}  // namespace

std::string parse_untrusted_json(std::string_view text, rapidjson::Document& doc, int max_depth) {
    // What Document::Parse(text, length) does, with our handler between the reader and it.
    rapidjson::MemoryStream memory(text.data(), text.size());
    rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> in(memory);
    rapidjson::ParseResult result;
    bool too_deep = false;
    auto generate = [&](rapidjson::Document& target) {
        DepthLimit handler(target, max_depth);
        rapidjson::Reader reader;
        result = reader.Parse<rapidjson::kParseIterativeFlag>(in, handler);
        too_deep = handler.too_deep();
        return !result.IsError();
    };
    doc.SetNull();
    doc.Populate(generate);
    if (too_deep) {
        return fmt::format("nested more than {} levels deep at offset {}", max_depth,
                           result.Offset());
    }
    if (result.IsError()) {
        return fmt::format("{} at offset {}", rapidjson::GetParseError_En(result.Code()),
                           result.Offset());
    }
    return {};
}

}  // namespace renderer
