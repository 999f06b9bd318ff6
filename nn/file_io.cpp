// The durable, atomic write behind every save and the whole-file reads behind every load (nn/file_io.hpp), with
// the test hook that makes a chosen stage of a save fail (io_testing in nn/serialize.hpp).
#include "file_io.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "serialize.hpp"

namespace chainrule::nn {

namespace io_testing {
namespace {
thread_local WriteStage injected_failure = WriteStage::None;
}  // namespace

const char* write_stage_name(WriteStage s) {
  switch (s) {
    case WriteStage::None: return "none";
    case WriteStage::Open: return "open";
    case WriteStage::Write: return "write";
    case WriteStage::Flush: return "flush";
    case WriteStage::Fsync: return "fsync";
    case WriteStage::Close: return "close";
    case WriteStage::Rename: return "rename";
  }
  return "?";
}

void set_write_failure(WriteStage stage) { injected_failure = stage; }
}  // namespace io_testing

namespace file_io {
namespace {

using io_testing::WriteStage;

// errno after a failed call; EIO if the call failed without setting it (fwrite may, on a short count).
int last_error() { return errno != 0 ? errno : EIO; }

// True, with errno set as the real call would, when the test hook says this stage fails.
bool injected(WriteStage s) {
  if (io_testing::injected_failure != s) return false;
  errno = s == WriteStage::Write ? ENOSPC : EIO;
  return true;
}

// Removes `<path>.tmp.<pid>.<n>` files that a save by a process no longer running left behind (killed mid-save):
// kill(pid, 0) failing with ESRCH says no process has that id. A live process's temporary, this one's included, is
// never touched (a reused id only keeps a stale file longer). Best effort: a save does not fail over this.
void remove_stale_temporaries(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const std::string prefix = target.filename().string() + ".tmp.";
  std::error_code ec;
  fs::directory_iterator it(target.parent_path().empty() ? fs::path(".") : target.parent_path(), ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string rest = name.substr(prefix.size());  // "<pid>.<n>"
    const auto dot = rest.find('.');
    const auto digits = [](const std::string& d) {
      return !d.empty() && d.size() < 10 && std::all_of(d.begin(), d.end(), [](char c) { return c >= '0' && c <= '9'; });
    };
    if (dot == std::string::npos || !digits(rest.substr(0, dot)) || !digits(rest.substr(dot + 1))) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(rest.substr(0, dot)));
    if (pid > 0 && pid != ::getpid() && ::kill(pid, 0) != 0 && errno == ESRCH) {
      std::error_code ignored;
      fs::remove(it->path(), ignored);
    }
  }
}

}  // namespace

void write_atomic(const std::string& path, const std::vector<Chunk>& chunks) {
  static std::atomic<unsigned long> counter{0};
  auto refuse = [&](WriteStage s, int err) {
    throw std::runtime_error(path + ": save failed at " + io_testing::write_stage_name(s) + ": " + std::strerror(err));
  };

  files::check_save_target(path);  // a FIFO, socket, device or directory is never replaced
  remove_stale_temporaries(path);
  std::string tmp;
  int fd = -1;
  if (injected(WriteStage::Open)) refuse(WriteStage::Open, errno);
  for (int attempt = 0; fd < 0; ++attempt) {  // O_EXCL: never write into a file someone else is writing
    tmp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && (errno != EEXIST || attempt == 100)) refuse(WriteStage::Open, errno);
  }
  std::FILE* f = ::fdopen(fd, "wb");
  if (f == nullptr) {
    const int err = errno;
    ::close(fd);
    std::remove(tmp.c_str());
    refuse(WriteStage::Open, err);
  }
  auto abandon = [&](WriteStage s) {  // close and delete the temporary file, then report the first error
    const int err = last_error();
    if (f != nullptr) std::fclose(f);
    std::remove(tmp.c_str());
    refuse(s, err);
  };

  for (const Chunk& c : chunks) {
    if (c.size == 0) continue;  // an empty tensor's storage may be a null pointer, which fwrite must not get
    errno = 0;
    if (injected(WriteStage::Write) || std::fwrite(c.data, 1, c.size, f) != c.size) abandon(WriteStage::Write);
  }
  errno = 0;
  if (injected(WriteStage::Flush) || std::fflush(f) != 0) abandon(WriteStage::Flush);
  errno = 0;
  if (injected(WriteStage::Fsync) || ::fsync(::fileno(f)) != 0) abandon(WriteStage::Fsync);
  errno = 0;
  const bool closed = std::fclose(f) == 0;  // always close for real, even when a failure is injected
  f = nullptr;
  if (!closed || injected(WriteStage::Close)) abandon(WriteStage::Close);
  errno = 0;
  if (injected(WriteStage::Rename) || std::rename(tmp.c_str(), path.c_str()) != 0) abandon(WriteStage::Rename);

  // Make the rename itself durable. Best effort: the new file is already in place and complete, and some file
  // systems refuse fsync on a directory, so an error here is not worth failing a save that has happened.
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
}

std::size_t read_fully(int fd, void* buf, std::size_t n, const std::string& path) {
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = ::read(fd, static_cast<char*>(buf) + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) throw std::runtime_error(path + ": cannot read: " + std::strerror(errno));
    if (r == 0) break;
    got += static_cast<std::size_t>(r);
  }
  return got;
}

}  // namespace file_io

void save_text_atomic(const std::string& path, const std::string& text) {
  file_io::write_atomic(path, {{text.data(), text.size()}});
}

void save_json_atomic(const std::string& path, const std::string& text) {
  if (!nlohmann::ordered_json::accept(text)) throw std::invalid_argument(path + ": cannot save: the text is not valid JSON");
  save_text_atomic(path, text);
}

std::string read_text_file(const std::string& path) {
  file_io::InputFile file(path);
  std::string text;
  char buf[1 << 16];
  while (const std::size_t n = file_io::read_fully(file.fd(), buf, sizeof buf, path)) {
    text.append(buf, n);
    if (n < sizeof buf) break;
  }
  return text;
}

}  // namespace chainrule::nn
