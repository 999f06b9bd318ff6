#pragma once
// The playground as one self-contained web page: the decision boundary per frame with a slider and a play button,
// the epoch and losses on the frame, training and test points, and the loss chart with axes, ticks and a legend.
#include <cstddef>
#include <string>
#include <vector>

namespace chainrule::playground {

struct Frame {
  std::size_t epoch = 0;          // 0: before training
  double loss = 0, val_loss = 0, val_accuracy = 0;  // NaN before training
  std::vector<float> p;           // P(class 1) on a grid × grid raster, row 0 at the top
};

struct Point {
  double x, y;
  int label;                      // 0 or 1
};

struct Page {
  std::string title, subtitle;    // the dataset; the network and its training
  double x0, x1, y0, y1;          // the plane drawn: [x0, x1] × [y0, y1]
  std::size_t grid = 0;           // the rasters' side
  std::vector<Frame> frames;
  std::vector<Point> train, test;
  std::vector<double> loss, val_loss;  // per epoch, 1..epochs
};

/// The page as HTML (inline CSS, JS, SVG; no network).
std::string to_html(const Page& page);
/// Writes to_html(page) to path; throws std::runtime_error naming the path.
void write_html(const std::string& path, const Page& page);

}  // namespace chainrule::playground
