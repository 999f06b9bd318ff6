#pragma once
// Internal: opening files to read, and checking a path before saving over it, without ever blocking on a path that
// is not a regular file. A plain open() of a FIFO waits for a writer forever; of a tape or a terminal, it may wait
// or act. So the kind is judged from stat() first, and the read itself opens with O_NONBLOCK and checks fstat()
// before the first byte (the path may have changed between the two). Every loader and every save uses these.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace chainrule::files {

/// What a non-regular file is, for messages: "a FIFO", "a directory", ...
inline const char* kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "not a regular file";
}

/// "<path>: is a FIFO, not a regular file" for anything but a regular file; "" for a regular file or no file.
inline std::string refusal(const std::string& path, const struct stat& st) {
  if (S_ISREG(st.st_mode)) return "";
  return path + ": is " + kind(st.st_mode) + ", not a regular file";
}

/// Opens a regular file for reading and returns its descriptor (the caller closes it); throws
/// "<path>: cannot open: <strerror>" or "<path>: is a FIFO, not a regular file" (directories, sockets and devices
/// alike). `who` prefixes the message when given ("read_csv: ").
inline int open_regular(const std::string& path, const std::string& who = "") {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) throw std::runtime_error(who + refusal(path, st));
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error(who + path + ": cannot open: " + std::strerror(errno));
  if (::fstat(fd, &st) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    throw std::runtime_error(who + path + ": cannot stat: " + why);
  }
  if (!S_ISREG(st.st_mode)) {  // replaced by a FIFO or a directory since the stat() above
    ::close(fd);
    throw std::runtime_error(who + refusal(path, st));
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);  // a regular file: reads as usual
  return fd;
}

/// Throws "<path>: cannot save over a FIFO (not a regular file)" when `path` exists and is not a regular file
/// (following symbolic links: a link to a regular file is replaced as before).
inline void check_save_target(const std::string& path, const std::string& who = "") {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
    throw std::runtime_error(who + path + ": cannot save over " + kind(st.st_mode) + " (not a regular file)");
}

}  // namespace chainrule::files
