#pragma once
// Storage for model.save(path) / load(path): named tensors in the safetensors format, JSON documents, and the
// atomic writer both share, so a crash or a full disk in the middle of a save never damages the previous file.
//
// safetensors (readable by Python's safetensors, numpy, torch):
//   [8 bytes: N, little-endian u64] [N bytes: JSON header, space-padded to a multiple of 8] [data section]
//   header = {"__metadata__": {"k": "v", ...},                       (optional, string → string)
//             "name": {"dtype": "F32"|"F64", "shape": [d0, ...], "data_offsets": [begin, end]}, ...}
//   Offsets are relative to the data section; the tensors' raw little-endian bytes tile it exactly.
#include <cstdint>
#include <map>
#include <string>

#include "module.hpp"

namespace chainrule::nn {

/// safetensors' "__metadata__": a flat string → string map. Structured settings go in as one JSON string value
/// (e.g. {"chainrule.config": "<JSON text>"}), which keeps nlohmann::json out of the public headers.
using Metadata = std::map<std::string, std::string>;

/// Writes tensors to `path` as safetensors, atomically (see save_json_atomic), in the given order and dtypes.
/// Throws std::invalid_argument for an empty, duplicate, non-UTF-8 or "__metadata__" name or an undefined
/// tensor, and std::runtime_error "<path>: save failed at <stage>: <reason>" when the file system refuses.
void save_safetensors(const std::string& path, const NamedTensors& tensors, const Metadata& metadata = {});

/// Reads a safetensors file holding F32 and F64 tensors, in the order of their data offsets (= the order they
/// were saved in; tensors at one offset, i.e. empty ones, in header order). On success replaces *metadata when
/// given. Every defect throws std::runtime_error "<path>: <problem>" before any tensor memory is allocated from
/// unchecked sizes: truncation; a header length beyond the file or above 100 MB (safetensors' own limit);
/// invalid JSON; a key repeated within one object (nlohmann would silently keep one); an entry with a missing,
/// mistyped or unknown field; a dtype other than F32/F64; a shape that is not non-negative integers or whose
/// element count overflows; offsets that end before they begin, leave the data section, disagree with
/// shape × itemsize, overlap, or leave bytes of the data section to no tensor (safetensors requires exact tiling).
NamedTensors load_safetensors(const std::string& path, Metadata* metadata = nullptr);

/// Which safetensors dtypes load_safetensors accepts.
enum class SafetensorsDtypes : std::uint8_t {
  Chainrule,  ///< F32 and F64, what chainrule writes: anything else in a chainrule file is a defect
  Torch,      ///< also what PyTorch's files hold, converted exactly: F16 and BF16 → float32 (every value, subnormals,
              ///< ±inf and NaN included, is a float32); I32 → float64; I64 → float64 when |v| ≤ 2^53, else refused
              ///< ("tensor '<name>': I64 value <v> at element <k> is not exactly a float64")
};
/// load_safetensors with the dtypes of `accepted`; every other check is the same.
NamedTensors load_safetensors(const std::string& path, Metadata* metadata, SafetensorsDtypes accepted);

/// Writes `text` to `path` atomically: a temporary file in the same directory (path + ".tmp.<pid>.<n>") is
/// written, flushed, fsync'ed and closed, every result checked, then renamed over `path`. On any failure the
/// temporary file is removed and std::runtime_error "<path>: save failed at <stage>: <errno text>" is thrown;
/// the previous file at `path` is untouched. Throws std::invalid_argument if `text` is not valid JSON.
/// The new file gets default permissions (0666 minus the umask), and a symlink at `path` is replaced, not followed.
void save_json_atomic(const std::string& path, const std::string& text);
/// The same atomic write for any text, unchecked (CSV exports, logs).
void save_text_atomic(const std::string& path, const std::string& text);

/// The whole file as a string; std::runtime_error "<path>: cannot read: <errno text>" on failure.
std::string read_text_file(const std::string& path);

// Every reader here refuses a path that is not a regular file (FIFO, socket, device, directory) with
// "<path>: is a FIFO, not a regular file" before reading a byte, and never blocks on it; every save refuses such a
// target ("<path>: cannot save over a FIFO (not a regular file)") and first removes the "<path>.tmp.<pid>.<n>"
// files that saves of the same target by processes no longer running left behind (never a live process's).

/// What Model::load accepts beyond a well-formed file.
struct LoadOptions {
  bool allow_non_finite = false;  ///< load weights holding NaN or ±inf (refused by default: they cannot train)
};

/// Throws std::runtime_error "<path>: tensor '<name>' holds a non-finite value (<v> at element <k>) ..." for the
/// first tensor holding NaN or ±inf, unless o.allow_non_finite.
void check_finite(const std::string& path, const NamedTensors& tensors, const LoadOptions& o = {});

// Test hooks; a namespace of their own, because an nn::detail would hide chainrule::detail in nn's sources.
namespace io_testing {
/// The steps of an atomic save, in order.
enum class WriteStage : std::uint8_t { None, Open, Write, Flush, Fsync, Close, Rename };
const char* write_stage_name(WriteStage s);
/// Test hook: makes every later save on this thread fail at `stage` as if the system call had returned an error
/// (EIO; ENOSPC for Write), until reset with WriteStage::None.
void set_write_failure(WriteStage stage);
}  // namespace io_testing

}  // namespace chainrule::nn
