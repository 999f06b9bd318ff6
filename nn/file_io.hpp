#pragma once
// Internal to nn/serialize.cpp and nn/file_io.cpp: the durable, atomic write that every save goes through, and
// the whole-file reads that every load goes through. The file formats themselves live in nn/serialize.cpp.
#include <unistd.h>

#include <cstddef>
#include <string>
#include <vector>

#include "../autograd/files.hpp"

namespace chainrule::nn::file_io {

/// A piece of the file to write: `size` bytes at `data`.
struct Chunk {
  const void* data;
  std::size_t size;
};

/// Writes the chunks to a fresh temporary file next to `path`, makes it durable, then renames it over `path`.
/// rename() within one directory is atomic on POSIX: readers see the old file or the new one, never a mix. Throws
/// "<path>: save failed at <stage>: <strerror>" and leaves no temporary file behind.
void write_atomic(const std::string& path, const std::vector<Chunk>& chunks);

/// Reads up to n bytes, retrying short reads and EINTR; returns how many arrived before end of file. Throws
/// "<path>: cannot read: <strerror>".
std::size_t read_fully(int fd, void* buf, std::size_t n, const std::string& path);

/// Owns a file descriptor opened for reading (FIFOs, devices and directories are refused: files::open_regular).
class InputFile {
 public:
  explicit InputFile(const std::string& path) : fd_(files::open_regular(path)) {}
  ~InputFile() { ::close(fd_); }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

}  // namespace chainrule::nn::file_io
