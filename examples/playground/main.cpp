// A terminal version of playground.tensorflow.org, which the course uses: a 2-D dataset, a small MLP chosen on
// the command line, and the decision boundary as it trains, as PNG frames (ready to animate), a loss curve, and
// ASCII in the terminal.
//   build/examples/playground --dataset spiral --layers 16,16 --activation tanh --optimizer adam --lr 0.01
//                             --l2 0.001 --epochs 600 --every 20 --out out/playground --ascii --html
// --html [FILE] writes one page (default OUT/playground.html): every frame, a slider and a play button, the loss
// chart (open it in a browser).
#include "../cli.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <unistd.h>

#include "page.hpp"
#include "png.hpp"
#include <chainrule/nn.hpp>

using namespace chainrule;
using playground::Image;
using playground::Rgb;

namespace {
// The playground's colours: orange for class 0, blue for class 1, white where the network is undecided.
constexpr Rgb kOrange{245, 147, 34}, kBlue{8, 119, 189}, kWhite{255, 255, 255}, kDark{60, 60, 60};

Rgb mix(Rgb a, Rgb b, double t) {  // (1 − t)·a + t·b
  auto c = [t](std::uint8_t u, std::uint8_t v) { return std::uint8_t(std::lround((1 - t) * u + t * v)); };
  return {c(a.r, b.r), c(a.g, b.g), c(a.b, b.b)};
}

// The square of the plane that is drawn: the data's bounding box, squared and padded by 10%.
struct View {
  double cx, cy, half;
  static View around(const Tensor& x) {
    const auto& v = x.data<float>();
    double lo[2] = {1e300, 1e300}, hi[2] = {-1e300, -1e300};
    for (std::size_t i = 0; i < x.size(0); ++i)
      for (std::size_t k = 0; k < 2; ++k) lo[k] = std::min(lo[k], double(v(i, k))), hi[k] = std::max(hi[k], double(v(i, k)));
    return {(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, 0.55 * std::max(hi[0] - lo[0], hi[1] - lo[1])};
  }
  // Plane coordinates of cell (i, j) of an n_cols × n_rows grid (row 0 at the top).
  double x(double i, double n_cols) const { return cx - half + 2 * half * (i + 0.5) / n_cols; }
  double y(double j, double n_rows) const { return cy + half - 2 * half * (j + 0.5) / n_rows; }
};

// The network's output P(class 1) at the centre of every cell of a cols × rows grid, row by row.
std::vector<float> predict_grid(nn::Model& model, const View& v, std::size_t cols, std::size_t rows) {
  std::vector<double> xy;
  xy.reserve(2 * cols * rows);
  for (std::size_t j = 0; j < rows; ++j)
    for (std::size_t i = 0; i < cols; ++i) xy.push_back(v.x(double(i), double(cols))), xy.push_back(v.y(double(j), double(rows)));
  const Tensor p = model.predict(from_vector(xy, {cols * rows, 2}), 8192);
  return {p.data<float>().begin(), p.data<float>().end()};
}

// Decision boundary: background shaded by P(class 1), the 0.5 contour in dark grey, training points with a
// white rim and test points with a dark one.
Image render(nn::Model& model, const View& v, std::size_t size, const nn::Dataset& train, const nn::Dataset& test) {
  Image img(size, size);
  const auto p = predict_grid(model, v, size, size);
  for (std::size_t j = 0; j < size; ++j)
    for (std::size_t i = 0; i < size; ++i) {
      const double t = 2 * p[j * size + i] - 1;  // −1 … 1
      img.set(long(i), long(j), mix(kWhite, t > 0 ? kBlue : kOrange, 0.6 * std::abs(t)));
      const bool here = p[j * size + i] >= 0.5f;
      if ((i + 1 < size && (p[j * size + i + 1] >= 0.5f) != here) || (j + 1 < size && (p[(j + 1) * size + i] >= 0.5f) != here))
        img.set(long(i), long(j), kDark);
    }
  auto dots = [&](const nn::Dataset& d, Rgb rim) {
    const auto& x = d.x().data<float>();
    const auto& y = d.y().data<float>();
    for (std::size_t k = 0; k < d.size(); ++k) {
      const double px = (x(k, 0) - (v.cx - v.half)) / (2 * v.half) * double(size) - 0.5;
      const double py = ((v.cy + v.half) - x(k, 1)) / (2 * v.half) * double(size) - 0.5;
      img.disc(px, py, 3.5, rim);
      img.disc(px, py, 2.5, y(k) > 0.5f ? kBlue : kOrange);
    }
  };
  dots(train, kWhite);
  dots(test, kDark);
  return img;
}

// Boundary in the terminal: '.' where the network says class 0, ':' where it says class 1; the training points
// as 'O' (class 0) and 'X' (class 1), so a letter on the other class's background is misclassified.
std::string ascii(nn::Model& model, const View& v, const nn::Dataset& d, std::size_t cols = 64, std::size_t rows = 28) {
  const auto p = predict_grid(model, v, cols, rows);
  std::vector<std::string> grid(rows, std::string(cols, ' '));
  for (std::size_t j = 0; j < rows; ++j)
    for (std::size_t i = 0; i < cols; ++i) grid[j][i] = p[j * cols + i] >= 0.5f ? ':' : '.';
  std::vector<int> votes(cols * rows, 0), count(cols * rows, 0);
  const auto& x = d.x().data<float>();
  const auto& y = d.y().data<float>();
  for (std::size_t k = 0; k < d.size(); ++k) {
    const double fi = (x(k, 0) - (v.cx - v.half)) / (2 * v.half) * double(cols);
    const double fj = ((v.cy + v.half) - x(k, 1)) / (2 * v.half) * double(rows);
    if (fi < 0 || fj < 0 || fi >= double(cols) || fj >= double(rows)) continue;
    const std::size_t cell = std::size_t(fj) * cols + std::size_t(fi);
    votes[cell] += y(k) > 0.5f ? 1 : -1, ++count[cell];
  }
  std::string out = "+" + std::string(cols, '-') + "+\n";
  for (std::size_t j = 0; j < rows; ++j) {
    for (std::size_t i = 0; i < cols; ++i)
      if (count[j * cols + i]) grid[j][i] = votes[j * cols + i] >= 0 ? 'X' : 'O';
    out += "|" + grid[j] + "|\n";
  }
  return out + "+" + std::string(cols, '-') + "+\n";
}

// A "nice" tick step (1, 2 or 5 × 10^k) giving about `count` ticks over [0, top].
double tick_step(double top, int count) {
  const double raw = top / count, p = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0})
    if (m * p >= raw) return m * p;
  return 10 * p;
}

// Loss per epoch, training in blue and test in orange, on axes with ticks, numbers, axis labels and a legend.
Image loss_plot(const std::vector<double>& train, const std::vector<double>& test, double top) {
  const double w = 560, h = 300, L = 56, R = 16, T = 22, B = 40;
  Image img{std::size_t(w), std::size_t(h)};
  const double ystep = tick_step(top, 5), ymax = std::ceil(top / ystep - 1e-9) * ystep;
  const double n = double(std::max<std::size_t>(train.size(), 1)), xstep = std::max(1.0, tick_step(n, 6));
  auto px = [&](double epoch) { return L + (w - L - R) * epoch / n; };
  auto py = [&](double l) { return h - B - (h - T - B) * std::min(l / ymax, 1.0); };
  char label[32];
  for (double y = 0; y <= ymax + 1e-12; y += ystep) {  // grid, ticks and numbers on the y axis
    img.line(L + 1, py(y), w - R, py(y), {225, 225, 225});
    img.line(L - 4, py(y), L, py(y), kDark);
    std::snprintf(label, sizeof label, ystep >= 0.1 ? "%.1f" : ystep >= 0.01 ? "%.2f" : "%.3f", y);
    img.text(L - 8 - 6.0 * double(std::strlen(label)), py(y) - 3, label, kDark);
  }
  for (double x = 0; x <= n + 1e-9; x += xstep) {  // ticks and numbers on the x axis
    img.line(px(x), h - B, px(x), h - B + 4, kDark);
    std::snprintf(label, sizeof label, "%g", x);
    img.text(px(x) - 3.0 * double(std::strlen(label)), h - B + 8, label, kDark);
  }
  img.line(L, T, L, h - B, kDark);
  img.line(L, h - B, w - R, h - B, kDark);
  img.text((L + w - R) / 2 - 15, h - 14, "epoch", kDark);
  img.text(8, 6, "loss (cross-entropy)", kDark);
  auto curve = [&](const std::vector<double>& v, Rgb c) {
    for (std::size_t i = 0; i + 1 < v.size(); ++i)
      for (int dy = 0; dy < 2; ++dy)
        img.line(px(double(i + 1)), py(v[i]) + dy, px(double(i + 2)), py(v[i + 1]) + dy, c);
  };
  curve(test, kOrange);
  curve(train, kBlue);
  const double lx = w - R - 112, ly = T + 6;  // the legend
  img.fill(long(lx), long(ly), long(lx + 108), long(ly + 34), kWhite);
  img.fill(long(lx + 6), long(ly + 8), long(lx + 26), long(ly + 10), kBlue);
  img.text(lx + 32, ly + 5, "training", kDark);
  img.fill(long(lx + 6), long(ly + 24), long(lx + 26), long(ly + 26), kOrange);
  img.text(lx + 32, ly + 21, "test", kDark);
  return img;
}

bool installed(const char* tool) {
  return std::system((std::string("command -v ") + tool + " >/dev/null 2>&1").c_str()) == 0;
}

// Renders a frame every `every` epochs (and before training): PNG, and with --ascii the terminal picture.
class Frames : public nn::Callback {
 public:
  Frames(View v, std::size_t size, std::size_t every, std::size_t epochs, std::string dir, bool show_ascii,
         const nn::Dataset& train, const nn::Dataset& test, playground::Page* page)
      : v_(v), size_(size), every_(every), epochs_(epochs), dir_(std::move(dir)), ascii_(show_ascii),
        redraw_(show_ascii && isatty(fileno(stdout))), train_(train), test_(test), page_(page) {}

  void on_train_begin(nn::Model& m) override { frame(m, 0, std::nan(""), std::nan(""), std::nan("")); }
  void on_epoch_end(nn::Model& m, std::size_t epoch, nn::Logs& logs) override {
    loss_.push_back(logs.at("loss")), val_loss_.push_back(logs.at("val_loss"));
    if ((epoch + 1) % every_ == 0 || epoch + 1 == epochs_)
      frame(m, epoch + 1, logs.at("loss"), logs.at("val_loss"), logs.at("val_accuracy"));
  }
  std::size_t frames() const { return count_; }
  const std::vector<double>& loss() const { return loss_; }
  const std::vector<double>& val_loss() const { return val_loss_; }

 private:
  void frame(nn::Model& m, std::size_t epoch, double loss, double val_loss, double val_acc) {
    char name[32];
    std::snprintf(name, sizeof name, "frame_%04zu.png", ++count_);
    Image img = render(m, v_, size_, train_, test_);
    char label[96];  // the epoch and losses on the frame, on a white band at the top
    if (epoch == 0)
      std::snprintf(label, sizeof label, "epoch 0 (untrained)");
    else
      std::snprintf(label, sizeof label, "epoch %zu  loss %.4f  test %.4f", epoch, loss, val_loss);
    const int scale = size_ >= 12 * std::strlen(label) + 6 ? 2 : 1;  // twice the size where it fits
    img.fill(0, 0, long(size_), 9 * scale + 2, kWhite);
    img.text(3, 2, label, kDark, scale);
    playground::write_png(dir_ + "/" + name, img);
    if (page_) page_->frames.push_back({epoch, loss, val_loss, val_acc, predict_grid(m, v_, page_->grid, page_->grid)});
    if (ascii_) std::printf("%s%s", redraw_ ? "\033[H\033[2J" : "\n", ascii(m, v_, train_).c_str());
    if (epoch == 0)
      std::printf("epoch %4zu  (untrained)%35s %s\n", epoch, "", name);
    else
      std::printf("epoch %4zu  training loss %.4f  test loss %.4f  test accuracy %.3f  %s\n", epoch, loss, val_loss,
                  val_acc, name);
    std::fflush(stdout);
  }
  View v_;
  std::size_t size_, every_, epochs_, count_ = 0;
  std::string dir_;
  bool ascii_, redraw_;
  const nn::Dataset &train_, &test_;
  playground::Page* page_;  // collects the frames for --html, or null
  std::vector<double> loss_, val_loss_;
};

std::vector<playground::Point> points(const nn::Dataset& d) {
  std::vector<playground::Point> r;
  const auto& x = d.x().data<float>();
  const auto& y = d.y().data<float>();
  for (std::size_t k = 0; k < d.size(); ++k) r.push_back({x(k, 0), x(k, 1), y(k) > 0.5f ? 1 : 0});
  return r;
}
}  // namespace

int main(int argc, char** argv) {
  examples::Cli cli("playground",
                    "Train a small network on a 2-D dataset and watch its decision boundary (playground.tensorflow.org)");
  // Defaults as the playground opens: circles, two hidden layers of 4 and 2 tanh units, half the points for test.
  std::string dataset = "circles", activation = "tanh", optimizer = "adam", out = "out/playground";
  std::vector<std::size_t> layers = {4, 2};
  std::size_t n = 400, epochs = 100, every = 10, batch_size = 10, size = 300;
  double noise = 0.1, lr = 0.03, test_fraction = 0.5, l1 = 0, l2 = 0, elastic = 0, l1_ratio = 0.5;
  std::uint64_t seed = 1;
  bool show_ascii = false;
  cli.option("--dataset", dataset, "xor, circles, moons, spiral or gaussian")
      .one_of({"xor", "circles", "moons", "spiral", "gaussian"}).show_default();
  cli.option("--n", n, "number of points (train + test)").range(10, 100000).show_default();
  cli.option("--noise", noise, "standard deviation of the noise on each coordinate").range(0, 10).show_default();
  cli.option("--test-fraction", test_fraction, "share of the points held out as test data").range(0.05, 0.95)
      .show_default();
  cli.option("--layers", layers, "hidden layer sizes, e.g. 8,8 (none: --layers 0)").list(',', 1, 16)
      .show_default();
  cli.option("--activation", activation, "hidden activation: relu, tanh, sigmoid, linear, ...").show_default();
  cli.option("--optimizer", optimizer, "sgd, momentum, nag, adagrad, adadelta, rmsprop or adam").show_default();
  cli.option("--lr", lr, "learning rate").positive().show_default();
  auto o_l1 = cli.option("--l1", l1, "L1 (Lasso) regularization rate α").non_negative();
  auto o_l2 = cli.option("--l2", l2, "L2 (Ridge) regularization rate α").non_negative();
  auto o_el = cli.option("--elastic", elastic, "ElasticNet regularization rate α").non_negative();
  cli.option("--l1-ratio", l1_ratio, "ElasticNet's L1 share r").range(0, 1).show_default();
  o_l1.excludes(o_l2).excludes(o_el);
  o_l2.excludes(o_el);
  cli.option("--epochs", epochs, "training epochs").positive().show_default();
  cli.option("--every", every, "write a frame every k epochs").positive().show_default();
  cli.option("--batch-size", batch_size, "mini-batch size").positive().show_default();
  cli.option("--size", size, "frame width and height in pixels").range(32, 2048).show_default();
  cli.option("--seed", seed, "seed of the data, the initial weights and the shuffles").show_default();
  cli.option("--out", out, "directory for the frames, loss.png and loss.csv").show_default();
  cli.flag("--ascii", show_ascii, "draw the boundary in the terminal at every frame");
  std::string html_file;  // --html alone: OUT/playground.html
  const examples::Option html_opt =
      cli.option("--html", html_file, "also write a web page (default OUT/playground.html): the frames with a "
                                      "slider and a play button, the loss chart")
          .optional_value();
  if (const int code = cli.parse(argc, argv); code >= 0) return code;
  layers.erase(std::remove(layers.begin(), layers.end(), std::size_t{0}), layers.end());  // 0: no hidden layer

  try {
    std::filesystem::create_directories(out);
    const auto [train, test] = nn::make_dataset2d(dataset, n, noise, seed).split(test_fraction);
    manual_seed(seed);
    nn::Model model;
    std::size_t width = 2;
    std::string arch = "2";
    for (std::size_t h : layers) model.add(nn::make_dense(width, h, activation)), width = h, arch += "-" + std::to_string(h);
    model.add(nn::make_dense(width, 1, "sigmoid"));
    model.compile(optimizer, "binary_crossentropy", {"accuracy"}, lr);
    std::string reg = "none";
    if (l1 > 0) model.set_penalty(nn::Penalty::l1(l1)), reg = "L1 " + optim::format_number(l1);
    if (l2 > 0) model.set_penalty(nn::Penalty::l2(l2)), reg = "L2 " + optim::format_number(l2);
    if (elastic > 0)
      model.set_penalty(nn::Penalty::elastic_net(elastic, l1_ratio)),
          reg = "ElasticNet " + optim::format_number(elastic) + " (r " + optim::format_number(l1_ratio) + ")";

    std::printf("%s: %zu training and %zu test points, noise %g\n", dataset.c_str(), train.size(), test.size(), noise);
    std::printf("network %s-1 (%s hidden, sigmoid output), %s lr %g, batch %zu, regularization %s, %zu epochs\n\n",
                arch.c_str(), activation.c_str(), optimizer.c_str(), lr, batch_size, reg.c_str(), epochs);
    const View view = View::around(concat({train.x(), test.x()}, 0));
    playground::Page page;
    page.grid = 70;
    auto frames = std::make_shared<Frames>(view, size, every, epochs, out, show_ascii, train, test,
                                           html_opt.given() ? &page : nullptr);
    nn::FitOptions fo;
    fo.epochs = epochs, fo.batch_size = batch_size, fo.seed = seed, fo.verbose = 0;
    fo.validation_data = std::pair{test.x(), test.y()};
    fo.callbacks = {frames};
    const nn::History h = model.fit(train.x(), train.y(), fo);
    if (!h.stop_reason.empty()) std::printf("%s\n", h.stop_reason.c_str());

    if (!show_ascii) std::printf("\n%s", ascii(model, view, train).c_str());
    std::printf("'.' class 0 region, ':' class 1 region; O / X training points of class 0 / 1 "
                "(a letter on the other region is misclassified)\n\n");

    const double top = std::max(*std::max_element(frames->loss().begin(), frames->loss().end()),
                                *std::max_element(frames->val_loss().begin(), frames->val_loss().end()));
    playground::write_png(out + "/loss.png", loss_plot(frames->loss(), frames->val_loss(), top));
    h.to_csv(out + "/loss.csv");
    if (html_opt.given()) {
      if (html_file.empty()) html_file = out + "/playground.html";
      page.title = "playground: " + dataset + ", " + std::to_string(train.size()) + " training and " +
                   std::to_string(test.size()) + " test points";
      page.subtitle = "network " + arch + "-1 (" + activation + " hidden, sigmoid output), " + optimizer + " lr " +
                      optim::format_number(lr) + ", batch " + std::to_string(batch_size) + ", regularization " + reg +
                      ", " + std::to_string(epochs) + " epochs";
      page.x0 = view.cx - view.half, page.x1 = view.cx + view.half;
      page.y0 = view.cy - view.half, page.y1 = view.cy + view.half;
      page.train = points(train), page.test = points(test);
      page.loss = frames->loss(), page.val_loss = frames->val_loss();
      playground::write_html(html_file, page);
      std::printf("page: %s (open it in a browser: slider, play button, loss chart)\n", html_file.c_str());
    }
    std::printf("%zu frames: %s/frame_0001.png ... frame_%04zu.png (decision boundary; white-rimmed dots train, "
                "dark-rimmed test)\n", frames->frames(), out.c_str(), frames->frames());
    std::printf("loss curve: %s/loss.png (training blue, test orange; x: epochs 1..%zu, y: 0 to %.3f, grid every "
                "%.3f), numbers in %s/loss.csv\n", out.c_str(), h.epochs, top, top / 4, out.c_str());
    std::printf("\nto animate the frames:\n");
    std::printf("  ffmpeg -framerate 10 -i %s/frame_%%04d.png -pix_fmt yuv420p %s/training.mp4   %s\n", out.c_str(),
                out.c_str(), installed("ffmpeg") ? "(ffmpeg is installed)" : "(apt-get install ffmpeg)");
    std::printf("  convert -delay 10 -loop 0 %s/frame_*.png %s/training.gif                %s\n", out.c_str(),
                out.c_str(), installed("convert") ? "(convert is installed)" : "(apt-get install imagemagick)");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "playground: %s\n", e.what());
    return 1;
  }
}
