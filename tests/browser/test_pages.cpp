// The teaching pages in a real browser: headless Chromium opens each page at a step (file://...#step=k), dumps the
// DOM after the page's script has run, and takes a screenshot. ctest label `browser`; without /usr/bin/chromium the
// program prints why and exits 77, which ctest reports as skipped (SKIP_RETURN_CODE). Screenshots are kept in
// CHAINRULE_BROWSER_OUT (build/browser/) as CI artifacts.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <png.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {
const char* kChromium = "/usr/bin/chromium";
const fs::path kOut = CHAINRULE_BROWSER_OUT;

// Runs a shell command; returns its exit status and its stdout.
std::pair<int, std::string> run(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[65536];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// Chromium, headless, with a fresh profile and nothing that reaches the network.
std::string chromium(const std::string& what) {
  static int profile = 0;
  const fs::path dir = kOut / ("profile_" + std::to_string(::getpid()) + "_" + std::to_string(profile++));
  fs::remove_all(dir);
  return std::string("timeout 120 ") + kChromium +
         " --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking"
         " --disable-component-update --disable-sync --user-data-dir=" + dir.string() + " " + what + " 2>/dev/null";
}

// The DOM of page at #step=k (k = 0: no fragment), after its script ran. A browser that fails to start (a busy
// machine can time it out) is tried again, twice at most; a page that loads is never retried.
std::string dom(const fs::path& page, int step) {
  const std::string url = "file://" + fs::absolute(page).string() + (step > 0 ? "#step=" + std::to_string(step) : "");
  std::pair<int, std::string> r;
  for (int attempt = 0; attempt < 3; ++attempt) {
    r = run(chromium("--dump-dom '" + url + "'"));
    if (r.first == 0 && r.second.find("</html>") != std::string::npos) break;
    MESSAGE("chromium --dump-dom " << url << ": exit status " << r.first << ", " << r.second.size() << " bytes");
  }
  REQUIRE(r.first == 0);
  REQUIRE(r.second.find("</html>") != std::string::npos);
  return r.second;
}

// What an element with this id holds: from its opening tag to the matching close (no nesting of the same tag).
std::string element(const std::string& html, const std::string& tag, const std::string& id) {
  const std::string open = "<" + tag + " id=\"" + id + "\"";
  const std::size_t a = html.find(open);
  REQUIRE_MESSAGE(a != std::string::npos, "no <" << tag << " id=" << id << ">");
  const std::size_t b = html.find("</" + tag + ">", a);
  return html.substr(a, b - a);
}

// Takes a screenshot of page at #step=k into kOut/name; returns the pixels' standard deviation (0: blank).
double screenshot(const fs::path& page, int step, const std::string& name, const char* size = "1400,900") {
  const fs::path png = kOut / name;
  fs::remove(png);
  const std::string url = "file://" + fs::absolute(page).string() + (step > 0 ? "#step=" + std::to_string(step) : "");
  int status = -1;
  for (int attempt = 0; attempt < 3 && !(status == 0 && fs::exists(png)); ++attempt)  // as dom()
    status = run(chromium(std::string("--hide-scrollbars --window-size=") + size + " --screenshot=" + png.string() +
                          " '" + url + "'")).first;
  REQUIRE(status == 0);
  REQUIRE(fs::exists(png));
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  REQUIRE(png_image_begin_read_from_file(&image, png.string().c_str()) != 0);
  image.format = PNG_FORMAT_GRAY;
  std::vector<unsigned char> pixels(PNG_IMAGE_SIZE(image));
  REQUIRE(png_image_finish_read(&image, nullptr, pixels.data(), 0, nullptr) != 0);
  double sum = 0, sq = 0;
  for (unsigned char p : pixels) sum += p, sq += double(p) * p;
  const double n = double(pixels.size()), mean = sum / n;
  MESSAGE(name << ": " << image.width << "×" << image.height << ", grey mean " << mean << ", deviation "
               << std::sqrt(sq / n - mean * mean));
  return std::sqrt(std::max(0.0, sq / n - mean * mean));
}
}  // namespace

TEST_CASE("browser: the calculator's page for micrograd's neuron, at a step and at the end") {
  const fs::path page = kOut / "neuron.html";
  for (bool graphviz : {true, false}) {
    CAPTURE(graphviz);
    // without graphviz on the PATH the page uses its built-in layout
    const std::string env = graphviz ? "" : "env PATH=/nonexistent ";
    auto [status, out] = run(env + CHAINRULE_CLI + std::string(" grad 'tanh(w1*x1 + w2*x2 + b)' x1=2 x2=0 w1=-3 "
                                                               "w2=1 b=6.8813735870195432 --html ") + page.string());
    REQUIRE(status == 0);
    const bool has_dot = graphviz && run("command -v dot").first == 0;
    // step 11: backward walks the edge from w1*x1 to x1, ∂o/∂x1 = ∂o/∂(w1*x1) · ∂(w1*x1)/∂x1 = 0.5 · w1
    const std::string at11 = dom(page, 11);
    const std::string panel = element(at11, "section", "panel");
    CHECK(panel.find("Step 11 of 12: Backward from w1*x1 to x1") != std::string::npos);
    CHECK(panel.find("0.5 × -3 = -1.5") != std::string::npos);
    CHECK(panel.find("<td>∂(w1*x1)/∂x1</td><td>= -3</td>") != std::string::npos);
    CHECK(element(at11, "span", "counter").find("11 / 12") != std::string::npos);
    CHECK(at11.find(has_dot ? "Graph: Graphviz layout." : "Graph: built-in layout.") != std::string::npos);
    // the highlighted edge, and x1's gradient written into its node
    CHECK(at11.find("class=\"edge current\"") != std::string::npos);
    CHECK(at11.find(">grad -1.5</text>") != std::string::npos);
    // step 12: the gradient table
    const std::string last = element(dom(page, 12), "section", "panel");
    for (const char* row : {"<td>x1</td><td>leaf</td><td>2</td><td><b>-1.5</b></td>",
                            "<td>w1</td><td>leaf</td><td>-3</td><td><b>1</b></td>",
                            "<td>x2</td><td>leaf</td><td>0</td><td><b>0.5</b></td>",
                            "<td>w2</td><td>leaf</td><td>1</td><td><b>0</b></td>",
                            "<td>b</td><td>leaf</td><td>6.88137</td><td><b>0.5</b></td>"}) {
      CAPTURE(row);
      CHECK(last.find(row) != std::string::npos);
    }
    // step 1: the forward values, before any gradient
    const std::string first = dom(page, 1);
    CHECK(element(first, "section", "panel").find("Forward pass: the values") != std::string::npos);
    CHECK(first.find(">grad -1.5</text>") == std::string::npos);
    CHECK(screenshot(page, 11, graphviz ? "neuron_step11.png" : "neuron_step11_builtin.png") > 20);
  }
}

TEST_CASE("browser: examples/graph writes the neuron's and an MLP's pages") {
  const fs::path dir = kOut / "graph";
  REQUIRE(run(std::string(CHAINRULE_GRAPH) + " --out " + dir.string() + " > /dev/null").first == 0);
  const std::string mlp = dom(dir / "mlp.html", 16);
  const std::string panel = element(mlp, "section", "panel");
  CHECK(panel.find("Step 16 of 16: The gradients") != std::string::npos);
  CHECK(panel.find("<td>W1</td><td>leaf</td>") != std::string::npos);
  CHECK(mlp.find("value [4,3] ") != std::string::npos);  // a tensor node: its shape and first values
  CHECK(screenshot(dir / "mlp.html", 8, "mlp_step8.png") > 20);
  // micrograd's order x1·w1: the x1 edge is step 10 here
  const std::string neuron = element(dom(dir / "neuron.html", 10), "section", "panel");
  CHECK(neuron.find("Backward from x1w1 to x1") != std::string::npos);
  CHECK(neuron.find("0.5 × -3 = -1.5") != std::string::npos);
}

TEST_CASE("browser: the playground's page shows the last epoch's losses, the chart and the points") {
  const fs::path dir = kOut / "playground";
  REQUIRE(run(std::string(CHAINRULE_PLAYGROUND) + " --epochs 30 --every 10 --html --out " + dir.string() +
              " > /dev/null").first == 0);
  // the last epoch's losses, as loss.csv has them: epoch,lr... columns named in its header
  std::ifstream csv(dir / "loss.csv");
  std::string header, line, last;
  std::getline(csv, header);
  while (std::getline(csv, line))
    if (!line.empty()) last = line;
  auto column = [&](const std::string& name) {
    std::vector<std::string> names, values;
    std::stringstream h(header), v(last);
    for (std::string c; std::getline(h, c, ',');) names.push_back(c);
    for (std::string c; std::getline(v, c, ',');) values.push_back(c);
    for (std::size_t k = 0; k < names.size(); ++k)
      if (names[k] == name) return std::stod(values.at(k));
    FAIL("loss.csv has no column " << name << ": " << header);
    return 0.0;
  };
  char expected[160];
  std::snprintf(expected, sizeof expected, "epoch 30   training loss %.4f   test loss %.4f   test accuracy %.3f",
                column("loss"), column("val_loss"), column("val_accuracy"));
  const std::string page = dom(dir / "playground.html", 0);  // opens at the last frame
  CHECK(element(page, "div", "frame-info").find(expected) != std::string::npos);
  CHECK(page.find(">training loss</text>") != std::string::npos);  // the chart's legend
  CHECK(page.find(">epoch</text>") != std::string::npos);          // and its axis label
  CHECK(screenshot(dir / "playground.html", 0, "playground.png", "1100,620") > 20);
}

TEST_CASE("browser: the course as a book: an index in the text's order, lessons with their slips and backward passes") {
  const fs::path dir = kOut / "lecture";
  fs::remove_all(dir);
  REQUIRE(run(std::string(CHAINRULE_LECTURE) + " --html " + dir.string() + " > /dev/null").first == 0);
  const std::string index = dom(dir / "index.html", 0);
  const char* order[] = {"perceptrons", "parameters", "identity_error", "mse", "gradient_step", "backprop",
                         "chain_rule", "xor", "optimizers"};
  std::size_t at = 0;
  for (const char* name : order) {  // every lesson, in the order of the text
    CAPTURE(name);
    const std::size_t p = index.find(std::string("href=\"") + name + ".html\"");
    CHECK(p != std::string::npos);
    CHECK(p >= at);
    at = p;
  }
  const std::string xor_page = dom(dir / "xor.html", 0);
  CHECK(xor_page.find("δ = o(1 - o)·(t1 - o1) = (0.573499 * (1 - 0.573499)) * 0.426501 = 0.10432") !=
        std::string::npos);
  CHECK(xor_page.find("<div class=\"slip\">it prints δ1 = 0.046.") != std::string::npos);
  CHECK(xor_page.find("<iframe src=\"xor_backward1.html\"") != std::string::npos);
  // the embedded backward pass is a step-through page like the calculator's
  const std::string backward = element(dom(dir / "xor_backward1.html", 2), "section", "panel");
  CHECK(backward.find("The seed: E") != std::string::npos);
  CHECK(screenshot(dir / "xor.html", 0, "lecture_xor.png", "1100,1400") > 20);
}

int main(int argc, char** argv) {
  if (::access(kChromium, X_OK) != 0) {
    std::cout << "skipped: " << kChromium << " is absent (Debian: apt-get install chromium; .ci/run installs it)\n";
    return 77;  // ctest: SKIP_RETURN_CODE
  }
  fs::create_directories(kOut);
  doctest::Context context(argc, argv);
  const int status = context.run();
  for (const auto& entry : fs::directory_iterator(kOut))  // the browser profiles; the pages and screenshots stay
    if (entry.path().filename().string().rfind("profile_", 0) == 0) fs::remove_all(entry.path());
  return status;
}
