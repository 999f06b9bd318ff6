#include "serialize.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <set>
#include <sstream>
#include <stdexcept>
#include <vector>

#include <nlohmann/json.hpp>

#include "file_io.hpp"
#include "torch_state_dict.hpp"  // half_to_float, bfloat16_to_float

// The data section holds little-endian values, which a little-endian host writes and reads as they are in memory.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "chainrule's safetensors I/O assumes a little-endian host");

namespace chainrule::nn {

namespace {

using file_io::Chunk;
using file_io::InputFile;
using file_io::read_fully;
using file_io::write_atomic;
using Json = nlohmann::ordered_json;  // keeps the header's key order: the tie-break for equal offsets

// safetensors' own reader refuses headers above 100 MB; so do we, to bound what a hostile length can cost.
constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error(path + ": " + what);
}

std::size_t itemsize(Dtype d) { return d == kFloat32 ? 4 : 8; }
const char* safetensors_dtype(Dtype d) { return d == kFloat32 ? "F32" : "F64"; }

// Non-negative JSON integer → value; false for negatives, fractions, non-numbers and numbers beyond u64.
bool as_count(const Json& j, std::uint64_t& out) {
  if (j.is_number_unsigned()) {
    out = j.get<std::uint64_t>();
    return true;
  }
  if (j.is_number_integer() && j.get<std::int64_t>() >= 0) {
    out = static_cast<std::uint64_t>(j.get<std::int64_t>());
    return true;
  }
  return false;
}

bool valid_utf8(const std::string& s) {
  try {
    (void)Json(s).dump();  // dump() throws type_error 316 on invalid UTF-8
    return true;
  } catch (const Json::type_error&) {
    return false;
  }
}

// A dtype a safetensors file may hold: its name, its bytes per element, and the dtype chainrule loads it as.
struct FileDtype {
  const char* name;
  std::size_t size;
  Dtype loaded_as;
  bool torch_only;  // accepted with SafetensorsDtypes::Torch only
};
constexpr FileDtype kFileDtypes[] = {
    {"F32", 4, kFloat32, false}, {"F64", 8, kFloat64, false}, {"F16", 2, kFloat32, true},
    {"BF16", 2, kFloat32, true}, {"I64", 8, kFloat64, true},  {"I32", 4, kFloat64, true},
};

// One tensor as the header describes it, after validation.
struct Entry {
  std::string name;
  const FileDtype* file_dtype;
  Shape shape;
  std::uint64_t begin, end;
};

// Converts the raw little-endian bytes of a torch-only dtype into `values` (sized to the element count).
// memcpy per element: the bytes have no alignment guarantee.
template <class T>
void convert(const std::string& path, const Entry& e, const std::vector<unsigned char>& raw, Array<T>& values) {
  const std::string d = e.file_dtype->name;
  const bool half = d == "F16", bfloat = d == "BF16", int32 = d == "I32";
  const unsigned char* p = raw.data();
  for (std::size_t k = 0; k < values.size(); ++k, p += e.file_dtype->size) {
    if (half || bfloat) {
      std::uint16_t h = 0;
      std::memcpy(&h, p, 2);
      values.data()[k] = static_cast<T>(half ? half_to_float(h) : bfloat16_to_float(h));
    } else if (int32) {
      std::int32_t v = 0;
      std::memcpy(&v, p, 4);
      values.data()[k] = static_cast<T>(v);
    } else {  // I64: exact in float64 up to 2^53 in magnitude
      std::int64_t v = 0;
      std::memcpy(&v, p, 8);
      constexpr std::int64_t kExact = std::int64_t{1} << 53;
      if (v > kExact || v < -kExact)
        fail(path, "tensor '" + e.name + "': I64 value " + std::to_string(v) + " at element " + std::to_string(k) +
                       " is not exactly a float64 (|v| > 2^53)");
      values.data()[k] = static_cast<T>(v);
    }
  }
}

std::string offsets_str(std::uint64_t begin, std::uint64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + "]";
}

// Checks one tensor's header entry against the format and the data section's size.
Entry parse_entry(const std::string& path, const std::string& name, const Json& j, std::uint64_t data_bytes,
                  SafetensorsDtypes accepted) {
  const std::string where = "tensor '" + name + "': ";
  if (!j.is_object()) fail(path, where + "entry is not a JSON object");
  for (const auto& item : j.items())
    if (item.key() != "dtype" && item.key() != "shape" && item.key() != "data_offsets")
      fail(path, where + "unexpected field '" + item.key() + "'");
  for (const char* field : {"dtype", "shape", "data_offsets"})
    if (!j.contains(field)) fail(path, where + "missing field '" + field + "'");

  Entry e{name, nullptr, {}, 0, 0};
  const Json& dtype = j["dtype"];
  if (!dtype.is_string()) fail(path, where + "dtype " + dtype.dump() + " is not a string");
  const bool torch = accepted == SafetensorsDtypes::Torch;
  for (const FileDtype& d : kFileDtypes)
    if (dtype == d.name && (torch || !d.torch_only)) e.file_dtype = &d;
  if (e.file_dtype == nullptr)
    fail(path, where + "unsupported dtype '" + dtype.get<std::string>() + "' (chainrule reads " +
                   (torch ? "F32, F64, F16, BF16, I64 and I32" : "F32 and F64") + ")");

  const Json& shape = j["shape"];
  if (!shape.is_array()) fail(path, where + "shape " + shape.dump() + " is not an array");
  std::uint64_t nonzero_product = 1;
  bool empty = false;
  for (const Json& d : shape) {
    std::uint64_t n = 0;
    if (!as_count(d, n)) fail(path, where + "shape " + shape.dump() + " has a dimension that is not a non-negative integer");
    // The product of the non-zero dimensions must fit even when another dimension is 0, so that strides do too:
    // xtensor computes them as signed products of trailing dimensions (ptrdiff_t).
    if (n != 0 && (__builtin_mul_overflow(nonzero_product, n, &nonzero_product) ||
                   nonzero_product > std::uint64_t{PTRDIFF_MAX}))
      fail(path, where + "shape " + shape.dump() + " has too many elements");
    empty = empty || n == 0;
    e.shape.push_back(static_cast<std::size_t>(n));
  }
  std::uint64_t need = 0;
  if (!empty && __builtin_mul_overflow(nonzero_product, std::uint64_t{e.file_dtype->size}, &need))
    fail(path, where + "shape " + shape.dump() + " has too many elements");

  const Json& offsets = j["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2 || !as_count(offsets[0], e.begin) || !as_count(offsets[1], e.end))
    fail(path, where + "data_offsets " + offsets.dump() + " is not [begin, end] with non-negative integers");
  const std::string range = "data_offsets " + offsets_str(e.begin, e.end);
  if (e.end < e.begin) fail(path, where + range + " ends before it begins");
  if (e.end > data_bytes)
    fail(path, where + range + " out of range (data section has " + std::to_string(data_bytes) + " bytes)");
  if (e.end - e.begin != need)
    fail(path, where + range + " holds " + std::to_string(e.end - e.begin) + " bytes, but " +
                   e.file_dtype->name + " shape " + shape.dump() + " needs " + std::to_string(need));
  return e;
}

// Parses the header; a key that repeats within one object is an error (nlohmann would keep one silently).
Json parse_header(const std::string& path, const std::string& text) {
  std::vector<std::set<std::string>> open_objects;
  std::string duplicate;
  const Json::parser_callback_t note_keys = [&](int /*depth*/, Json::parse_event_t event, Json& parsed) {
    if (event == Json::parse_event_t::object_start) {
      open_objects.emplace_back();
    } else if (event == Json::parse_event_t::object_end) {
      open_objects.pop_back();
    } else if (event == Json::parse_event_t::key && duplicate.empty() &&
               !open_objects.back().insert(parsed.get<std::string>()).second) {
      duplicate = parsed.get<std::string>();
    }
    return true;
  };
  Json header;
  try {
    header = Json::parse(text, note_keys);
  } catch (const Json::exception& e) {  // parse_error, and out_of_range for a number too large for a double
    std::string what = e.what();  // "[json.exception.parse_error.101] parse error at ..."
    const auto bracket = what.find("] ");
    fail(path, "header is not valid JSON: " + (bracket == std::string::npos ? what : what.substr(bracket + 2)));
  }
  if (!duplicate.empty()) fail(path, "header has the key '" + duplicate + "' twice");
  if (!header.is_object()) fail(path, "header is not a JSON object");
  return header;
}

[[noreturn]] void fail_truncated(const std::string& path) {
  fail(path, "file ended while reading (was it changed during the load?)");
}

// The first 8 bytes: the header's length, little-endian, checked against the file's size and kMaxHeaderBytes.
std::uint64_t read_header_length(int fd, const std::string& path, std::uint64_t file_bytes) {
  if (file_bytes < 8)
    fail(path, "file has " + std::to_string(file_bytes) + " bytes, too few for the 8-byte header length");
  unsigned char length[8];
  if (read_fully(fd, length, 8, path) != 8) fail_truncated(path);
  std::uint64_t header_bytes = 0;
  for (int b = 7; b >= 0; --b) header_bytes = header_bytes << 8 | length[b];
  if (header_bytes > file_bytes - 8)
    fail(path, "header length " + std::to_string(header_bytes) + " exceeds the " + std::to_string(file_bytes - 8) +
                   " bytes that follow it");
  if (header_bytes > kMaxHeaderBytes)
    fail(path, "header length " + std::to_string(header_bytes) + " exceeds the limit of " +
                   std::to_string(kMaxHeaderBytes) + " bytes");
  return header_bytes;
}

// The header's tensor entries, each checked (parse_entry), in the header's order; its __metadata__ goes to `meta`.
std::vector<Entry> header_entries(const std::string& path, const Json& header, std::uint64_t data_bytes,
                                  SafetensorsDtypes accepted, Metadata& meta) {
  std::vector<Entry> entries;
  for (const auto& item : header.items()) {
    if (item.key() != "__metadata__") {
      entries.push_back(parse_entry(path, item.key(), item.value(), data_bytes, accepted));
      continue;
    }
    if (!item.value().is_object()) fail(path, "__metadata__ is not a JSON object");
    for (const auto& m : item.value().items()) {
      if (!m.value().is_string()) fail(path, "__metadata__ value of '" + m.key() + "' is not a string");
      meta[m.key()] = m.value().get<std::string>();
    }
  }
  return entries;
}

// The tensors must tile the data section exactly: no overlap, no hole, nothing left over (as safetensors).
// Sorting by offset restores the saved order; stable, so empty tensors at one offset keep the header's order.
void sort_and_check_tiling(const std::string& path, std::vector<Entry>& entries, std::uint64_t data_bytes) {
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  std::uint64_t covered = 0;
  const Entry* previous = nullptr;
  for (const Entry& e : entries) {
    if (e.begin < covered)
      fail(path, "tensor '" + e.name + "': data_offsets " + offsets_str(e.begin, e.end) + " overlap tensor '" +
                     previous->name + "' " + offsets_str(previous->begin, previous->end));
    if (e.begin > covered)
      fail(path, "bytes " + offsets_str(covered, e.begin) + " of the data section belong to no tensor");
    covered = e.end;
    previous = &e;
  }
  if (covered != data_bytes)
    fail(path, "bytes " + offsets_str(covered, data_bytes) + " of the data section belong to no tensor");
}

// The next tensor's values from the data section (the entries are read in offset order, which tile it).
Tensor read_entry_values(int fd, const std::string& path, const Entry& e) {
  return detail::dispatch(e.file_dtype->loaded_as, [&](auto tag) {
    using T = decltype(tag);
    Array<T> values = Array<T>::from_shape(e.shape);
    const std::size_t bytes = values.size() * e.file_dtype->size;
    if (!e.file_dtype->torch_only) {  // F32, F64: the bytes are the values
      if (read_fully(fd, values.data(), bytes, path) != bytes) fail_truncated(path);
    } else {
      std::vector<unsigned char> raw(bytes);
      if (read_fully(fd, raw.data(), bytes, path) != bytes) fail_truncated(path);
      convert(path, e, raw, values);
    }
    return Tensor(std::move(values));
  });
}

}  // namespace

void save_safetensors(const std::string& path, const NamedTensors& tensors, const Metadata& metadata) {
  const std::string cannot = "cannot save: ";
  Json header = Json::object();
  if (!metadata.empty()) {
    Json& meta = header["__metadata__"] = Json::object();
    for (const auto& [k, v] : metadata) {
      if (!valid_utf8(k) || !valid_utf8(v))
        throw std::invalid_argument(path + ": " + cannot + "metadata entry '" + k + "' is not valid UTF-8");
      meta[k] = v;
    }
  }
  std::set<std::string> seen;
  std::uint64_t offset = 0;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const auto& [name, t] = tensors[i];
    const std::string which = "tensor #" + std::to_string(i) + " '" + name + "'";
    if (name.empty()) throw std::invalid_argument(path + ": " + cannot + "tensor #" + std::to_string(i) + " has an empty name");
    if (name == "__metadata__")
      throw std::invalid_argument(path + ": " + cannot + which + ": the name is reserved for metadata");
    if (!valid_utf8(name)) throw std::invalid_argument(path + ": " + cannot + which + ": the name is not valid UTF-8");
    if (!seen.insert(name).second) throw std::invalid_argument(path + ": " + cannot + which + ": duplicate name");
    if (!t.defined()) throw std::invalid_argument(path + ": " + cannot + which + " is undefined");
    const std::uint64_t bytes = t.numel() * itemsize(t.dtype());
    header[name] = {{"dtype", safetensors_dtype(t.dtype())},
                    {"shape", std::vector<std::uint64_t>(t.shape().begin(), t.shape().end())},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }

  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // the data section starts 8-aligned, as safetensors pads
  unsigned char length[8];
  for (int b = 0; b < 8; ++b) length[b] = static_cast<unsigned char>(std::uint64_t{text.size()} >> (8 * b));

  std::vector<Chunk> chunks{{length, sizeof length}, {text.data(), text.size()}};
  for (const auto& [name, t] : tensors)  // xarray storage is contiguous row-major: the bytes are the tensor
    detail::dispatch(t.dtype(), [&, &t = t](auto tag) {
      using T = decltype(tag);
      chunks.push_back({t.template data<T>().data(), t.numel() * sizeof(T)});
    });
  write_atomic(path, chunks);
}

NamedTensors load_safetensors(const std::string& path, Metadata* metadata) {
  return load_safetensors(path, metadata, SafetensorsDtypes::Chainrule);
}

NamedTensors load_safetensors(const std::string& path, Metadata* metadata, SafetensorsDtypes accepted) {
  InputFile file(path);
  struct stat st {};
  if (::fstat(file.fd(), &st) != 0) fail(path, std::string("cannot stat: ") + std::strerror(errno));
  const auto file_bytes = static_cast<std::uint64_t>(st.st_size);
  const std::uint64_t header_bytes = read_header_length(file.fd(), path, file_bytes);
  const std::uint64_t data_bytes = file_bytes - 8 - header_bytes;

  std::string text(header_bytes, '\0');
  if (read_fully(file.fd(), text.data(), text.size(), path) != text.size()) fail_truncated(path);
  Metadata meta;
  std::vector<Entry> entries = header_entries(path, parse_header(path, text), data_bytes, accepted, meta);
  sort_and_check_tiling(path, entries, data_bytes);

  // Every size is now checked against the file's, so the allocations below are bounded by it.
  NamedTensors out;
  out.reserve(entries.size());
  for (const Entry& e : entries) out.emplace_back(e.name, read_entry_values(file.fd(), path, e));
  if (metadata != nullptr) *metadata = std::move(meta);
  return out;
}

void check_finite(const std::string& path, const NamedTensors& tensors, const LoadOptions& o) {
  if (o.allow_non_finite) return;
  for (const auto& [name, t] : tensors)
    detail::dispatch(t.dtype(), [&, &name = name, &t = t](auto tag) {
      const auto& a = t.template data<decltype(tag)>();
      const auto bad = std::find_if(a.begin(), a.end(), [](auto v) { return !std::isfinite(v); });
      if (bad == a.end()) return;
      std::ostringstream s;
      s << "tensor '" << name << "' holds a non-finite value (" << *bad << " at element " << (bad - a.begin())
        << "); set LoadOptions::allow_non_finite to load it anyway";
      fail(path, s.str());
    });
}

}  // namespace chainrule::nn
