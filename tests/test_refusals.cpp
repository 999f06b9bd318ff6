// What a loader or a save must refuse (issue 15): paths that are not regular files (a FIFO must not hang a load),
// optimizer state and weights that no run can produce; and the temporaries a killed save leaves behind.
#include <doctest/doctest.h>

#include "helpers.hpp"

#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>

#include <chainrule/autograd.hpp>
#include <chainrule/nn.hpp>
#include <chainrule/optim.hpp>

using namespace chainrule;
using test::message;
using test::TempDir;

namespace {

// A 2-3-2 Adam classifier after two steps: every optimizer slot holds real numbers.
nn::Model trained_adam() {
  manual_seed(3);
  nn::Model m;
  m.add(nn::make_dense(2, 3, "tanh")).add(nn::make_dense(3, 2, "softmax"));
  m.compile("adam", "sparse_categorical_crossentropy");
  m.fit(tensor({{0.5, -1.0}, {1.0, 2.0}}), tensor({0.0, 1.0}), test::quiet(2, 2));
  return m;
}

// A process id that no process has: a child that has exited and been reaped.
pid_t dead_pid() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  ::waitpid(pid, nullptr, 0);
  return pid;
}

// Kills this test process (failing it) if a load blocks: a FIFO opened the blocking way waits forever.
struct HangGuard {
  HangGuard() { ::alarm(30); }
  ~HangGuard() { ::alarm(0); }
};

}  // namespace

TEST_CASE("refusals: every loader refuses a FIFO, a socket, a device and a directory at once, naming the path and "
          "its kind") {
  HangGuard guard;
  TempDir dir;
  const std::string fifo = dir / "model.fifo", sock = dir / "model.sock", folder = dir / "a_dir";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  std::filesystem::create_directory(folder);
  const int s = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  REQUIRE(sock.size() < sizeof addr.sun_path);
  std::strcpy(addr.sun_path, sock.c_str());
  REQUIRE(::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);

  const std::vector<std::pair<std::string, std::string>> paths = {
      {fifo, "a FIFO"}, {sock, "a socket"}, {"/dev/null", "a character device"}, {folder, "a directory"}};
  for (const auto& [path, kind] : paths) {
    CAPTURE(path);
    const std::string refused = path + ": is " + kind + ", not a regular file";
    CHECK(message([&] { nn::Model::load(path); }) == refused);
    CHECK(message([&] { nn::load_safetensors(path); }) == refused);
    CHECK(message([&] { nn::read_text_file(path); }) == refused);
    CHECK(message([&] { nn::read_csv(path); }) == "read_csv: " + refused);
    CHECK(message([&] { nn::read_idx(path); }) == "read_idx: " + refused);
  }
  ::close(s);
}

TEST_CASE("refusals: no save replaces a FIFO, a socket or a directory; the target stays what it was") {
  HangGuard guard;
  TempDir dir;
  const std::string fifo = dir / "out.fifo", folder = dir / "out_dir";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  std::filesystem::create_directory(folder);
  const nn::Model m = trained_adam();
  Tensor a = tensor(2.0).requires_grad_();
  ChainRuleTrace trace;  // a backward pass for write_html to show
  (a * a).backward();
  for (const auto& [path, kind] : {std::pair{fifo, "a FIFO"}, {folder, "a directory"}}) {
    CAPTURE(path);
    const std::string refused = path + ": cannot save over " + std::string(kind) + " (not a regular file)";
    CHECK(message([&] { m.save(path); }) == refused);
    CHECK(message([&] { nn::save_json_atomic(path, "{}"); }) == refused);
    CHECK(message([&] { nn::History().to_csv(path); }) == refused);
    CHECK(message([&] { write_dot(path, tensor(1.0)); }) == "write_dot: " + refused);
    CHECK(message([&] { write_html(path, trace); }) == "write_html: " + refused);
  }
  struct stat st {};
  REQUIRE(::stat(fifo.c_str(), &st) == 0);
  CHECK(S_ISFIFO(st.st_mode));
  CHECK(dir.files() == std::vector<std::string>{"out.fifo", "out_dir"});  // and no temporary left
}

TEST_CASE("refusals: a save removes the temporaries of dead processes for its target, and no other file") {
  TempDir dir;
  const std::string target = dir / "m.safetensors";
  const std::string dead = std::to_string(dead_pid()), me = std::to_string(::getpid()),
                    parent = std::to_string(::getppid());
  CHECK(::kill(std::stoi(dead), 0) == -1);  // (errno ESRCH: what the save relies on)
  const std::vector<std::string> stale = {"m.safetensors.tmp." + dead + ".0", "m.safetensors.tmp." + dead + ".17"};
  const std::vector<std::string> kept = {
      "m.safetensors.tmp." + me + ".5",       // this process: maybe another thread's save in progress
      "m.safetensors.tmp." + parent + ".0",   // a live process
      "m.safetensors.tmp.1.3",                // init, alive
      "other.safetensors.tmp." + dead + ".0", // another target's
      "m.safetensors.tmp." + dead,            // not <pid>.<n>
      "m.safetensors.tmp.x" + dead + ".0",    // not digits
  };
  for (const auto& f : stale) dir.write(f, "partial");
  for (const auto& f : kept) dir.write(f, "partial");
  trained_adam().save(target);
  std::vector<std::string> want = kept;
  want.push_back("m.safetensors");
  std::sort(want.begin(), want.end());
  CHECK(dir.files() == want);
  CHECK_NOTHROW(nn::Model::load(target));
}

TEST_CASE("refusals: optimizer state no run can reach is refused on load, naming the tensor and the value") {
  TempDir dir;
  const std::string path = dir / "m.safetensors";
  trained_adam().save(path);
  nn::Metadata md;
  const nn::NamedTensors good = nn::load_safetensors(path, &md);
  // Rewrites the file with element 0 of tensor `name` set to v.
  auto with = [&](const std::string& name, double v) {
    nn::NamedTensors t;
    for (const auto& [n, x] : good) t.emplace_back(n, n == name ? x.detach() : x);
    for (auto& [n, x] : t)
      if (n == name) detail::dispatch(x.dtype(), [&, &x = x](auto tag) { x.data<decltype(tag)>().data()[0] = decltype(tag)(v); });
    nn::save_safetensors(path, t, md);
  };
  with("optimizer.exp_avg_sq.0", -0.25);  // v̂ < 0: the next step takes √v̂ = NaN
  CHECK(message([&] { nn::Model::load(path); }) ==
        path + ": optimizer state: Adam: load_state: 'exp_avg_sq.0' holds -0.25 at element 0, but a sum of squares "
               "is >= 0");
  with("optimizer.exp_avg_sq.0", -0.0);  // −0 is a zero: accepted
  CHECK_NOTHROW(nn::Model::load(path));
  with("optimizer.step.1", 2.5);
  CHECK(message([&] { nn::Model::load(path); }) ==
        path + ": optimizer state: Adam: load_state: 'step.1' is a step count of 2.5, not a whole number >= 0");
  with("optimizer.step.1", -1);
  CHECK(message([&] { nn::Model::load(path); }) ==
        path + ": optimizer state: Adam: load_state: 'step.1' is a step count of -1, not a whole number >= 0");
  with("optimizer.exp_avg.2", NAN);
  CHECK(message([&] { nn::Model::load(path); }) ==
        path + ": tensor 'optimizer.exp_avg.2' holds a non-finite value (nan at element 0); set "
               "LoadOptions::allow_non_finite to load it anyway");
  nn::LoadOptions allow;
  allow.allow_non_finite = true;  // lets weights through, never optimizer state
  CHECK(message([&] { nn::Model::load(path, allow); }) ==
        path + ": optimizer state: Adam: load_state: 'exp_avg.2' holds nan at element 0, not a finite number");

  // The optimizers' own load_state, without a file: RMSprop, Adagrad, Adadelta keep sums of squares too.
  Tensor w = tensor({1.0, 2.0}, kFloat64).requires_grad_();
  optim::RMSprop rms({w});
  CHECK(message([&] { rms.load_state({{"step.0", tensor(1.0, kFloat64)}, {"square_avg.0", tensor({0.5, -2.0}, kFloat64)}}); }) ==
        "RMSprop: load_state: 'square_avg.0' holds -2 at element 1, but a sum of squares is >= 0");
  optim::Adagrad ada({w});
  CHECK(message([&] { ada.load_state({{"step.0", tensor(1.0, kFloat64)}, {"sum.0", tensor({-1.0, 0.0}, kFloat64)}}); }) ==
        "Adagrad: load_state: 'sum.0' holds -1 at element 0, but a sum of squares is >= 0");
  optim::Adadelta adl({w});
  CHECK(message([&] {
          adl.load_state({{"step.0", tensor(1.0, kFloat64)}, {"square_avg.0", tensor({1.0, 0.0}, kFloat64)},
                          {"acc_delta.0", tensor({0.0, -INFINITY}, kFloat64)}});
        }) == "Adadelta: load_state: 'acc_delta.0' holds -inf at element 1, not a finite number");
  optim::Adam adam({w});  // exp_avg (a first moment) may be negative
  CHECK_NOTHROW(adam.load_state({{"step.0", tensor(3.0, kFloat64)}, {"exp_avg.0", tensor({-1.0, 1.0}, kFloat64)},
                                 {"exp_avg_sq.0", tensor({1.0, 0.0}, kFloat64)}}));
}

TEST_CASE("refusals: non-finite weights are refused on load unless the caller allows them") {
  TempDir dir;
  const std::string path = dir / "m.safetensors";
  nn::Model m = trained_adam();
  m.parameters()[2].data<float>()(1, 0) = -INFINITY;  // "2.weight" [3,2]: element 2
  m.save(path);
  CHECK(message([&] { nn::Model::load(path); }) ==
        path + ": tensor '1.weight' holds a non-finite value (-inf at element 2); set LoadOptions::allow_non_finite "
               "to load it anyway");
  nn::LoadOptions allow;
  allow.allow_non_finite = true;
  nn::Model loaded = nn::Model::load(path, allow);
  CHECK(loaded.parameters()[2].data<float>()(1, 0) == -INFINITY);
  CHECK(loaded.parameters()[0].data<float>() == m.parameters()[0].data<float>());
}
