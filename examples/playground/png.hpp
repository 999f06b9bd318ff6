#pragma once
// A small RGB image with a few drawing primitives and 5×7 text, written as PNG by libpng: enough for the
// playground's decision boundaries (with their epoch label) and loss curves (with axes, ticks and a legend).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace chainrule::playground {

struct Rgb {
  std::uint8_t r = 0, g = 0, b = 0;
  bool operator==(const Rgb& o) const { return r == o.r && g == o.g && b == o.b; }
};

/// width × height pixels, row-major from the top-left corner, 3 bytes per pixel.
class Image {
 public:
  /// Throws std::invalid_argument unless 0 < width, height ≤ 2¹⁴.
  Image(std::size_t width, std::size_t height, Rgb fill = {255, 255, 255});
  std::size_t width() const { return w_; }
  std::size_t height() const { return h_; }
  /// Pixel (x, y); throws std::out_of_range outside the image.
  Rgb at(std::size_t x, std::size_t y) const;
  /// Sets pixel (x, y); points outside the image are clipped (ignored), so shapes may cross the border.
  void set(long x, long y, Rgb c);
  /// A line one pixel wide from (x0, y0) to (x1, y1) (DDA: one pixel per step along the longer axis).
  void line(double x0, double y0, double x1, double y1, Rgb c);
  /// A filled disc of radius r centred at (cx, cy).
  void disc(double cx, double cy, double r, Rgb c);
  /// Filled rectangle [x0, x1) × [y0, y1).
  void fill(long x0, long y0, long x1, long y1, Rgb c);
  /// Text in a 5×7 bitmap font (digits, . - : ( ) and the letters of the playground's labels), top-left at
  /// (x, y), each glyph 6·scale pixels wide; throws std::invalid_argument for a character it has no glyph for.
  void text(double x, double y, const std::string& s, Rgb c, int scale = 1);
  const std::vector<std::uint8_t>& bytes() const { return px_; }

 private:
  std::size_t w_, h_;
  std::vector<std::uint8_t> px_;
};

/// The PNG file's bytes (libpng: 8-bit RGB, no interlace).
std::vector<std::uint8_t> encode_png(const Image& img);
/// Writes encode_png(img) to path; throws std::runtime_error naming the path if it cannot.
void write_png(const std::string& path, const Image& img);

}  // namespace chainrule::playground
