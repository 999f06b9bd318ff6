#include "png.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <stdexcept>

#include <png.h>

namespace chainrule::playground {

Image::Image(std::size_t width, std::size_t height, Rgb fill) : w_(width), h_(height) {
  if (width == 0 || height == 0 || width > (1u << 14) || height > (1u << 14))
    throw std::invalid_argument("Image: size " + std::to_string(width) + "x" + std::to_string(height) +
                                " must be between 1x1 and 16384x16384");
  px_.resize(3 * w_ * h_);
  for (std::size_t i = 0; i < w_ * h_; ++i) px_[3 * i] = fill.r, px_[3 * i + 1] = fill.g, px_[3 * i + 2] = fill.b;
}

Rgb Image::at(std::size_t x, std::size_t y) const {
  if (x >= w_ || y >= h_)
    throw std::out_of_range("Image::at: (" + std::to_string(x) + ", " + std::to_string(y) + ") outside " +
                            std::to_string(w_) + "x" + std::to_string(h_));
  const std::uint8_t* p = &px_[3 * (y * w_ + x)];
  return {p[0], p[1], p[2]};
}

void Image::set(long x, long y, Rgb c) {
  if (x < 0 || y < 0 || std::size_t(x) >= w_ || std::size_t(y) >= h_) return;
  std::uint8_t* p = &px_[3 * (std::size_t(y) * w_ + std::size_t(x))];
  p[0] = c.r, p[1] = c.g, p[2] = c.b;
}

void Image::line(double x0, double y0, double x1, double y1, Rgb c) {
  const double steps = std::max({std::abs(x1 - x0), std::abs(y1 - y0), 1.0});
  for (double i = 0; i <= steps; ++i)
    set(std::lround(x0 + (x1 - x0) * i / steps), std::lround(y0 + (y1 - y0) * i / steps), c);
}

void Image::disc(double cx, double cy, double r, Rgb c) {
  for (long y = long(std::floor(cy - r)); y <= long(std::ceil(cy + r)); ++y)
    for (long x = long(std::floor(cx - r)); x <= long(std::ceil(cx + r)); ++x)
      if ((x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r) set(x, y, c);
}

void Image::fill(long x0, long y0, long x1, long y1, Rgb c) {
  for (long y = y0; y < y1; ++y)
    for (long x = x0; x < x1; ++x) set(x, y, c);
}

namespace {
// A 5×7 bitmap font for the labels the playground draws (digits, a few letters, ". - ( ) :"): row bits, MSB left.
struct Glyph {
  char c;
  std::uint8_t rows[7];
};
constexpr Glyph kFont[] = {
    {'0', {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E}}, {'1', {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E}},
    {'2', {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}}, {'3', {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E}},
    {'4', {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}}, {'5', {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E}},
    {'6', {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E}}, {'7', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}},
    {'8', {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E}}, {'9', {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C}},
    {'.', {0, 0, 0, 0, 0, 0x0C, 0x0C}},                {'-', {0, 0, 0, 0x1F, 0, 0, 0}},
    {' ', {0, 0, 0, 0, 0, 0, 0}},                      {':', {0, 0x0C, 0x0C, 0, 0x0C, 0x0C, 0}},
    {'(', {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02}}, {')', {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08}},
    {'a', {0, 0, 0x0E, 0x01, 0x0F, 0x11, 0x0F}},       {'c', {0, 0, 0x0E, 0x10, 0x10, 0x11, 0x0E}},
    {'d', {0x01, 0x01, 0x0D, 0x13, 0x11, 0x11, 0x0F}}, {'e', {0, 0, 0x0E, 0x11, 0x1F, 0x10, 0x0E}},
    {'g', {0, 0x0F, 0x11, 0x11, 0x0F, 0x01, 0x0E}},    {'h', {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11}},
    {'i', {0x04, 0, 0x0C, 0x04, 0x04, 0x04, 0x0E}},    {'l', {0x0C, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E}},
    {'n', {0, 0, 0x16, 0x19, 0x11, 0x11, 0x11}},       {'o', {0, 0, 0x0E, 0x11, 0x11, 0x11, 0x0E}},
    {'p', {0, 0, 0x1E, 0x11, 0x1E, 0x10, 0x10}},       {'r', {0, 0, 0x16, 0x19, 0x10, 0x10, 0x10}},
    {'s', {0, 0, 0x0E, 0x10, 0x0E, 0x01, 0x1E}},       {'t', {0x08, 0x08, 0x1C, 0x08, 0x08, 0x09, 0x06}},
    {'u', {0, 0, 0x11, 0x11, 0x11, 0x13, 0x0D}},       {'y', {0, 0, 0x11, 0x11, 0x0F, 0x01, 0x0E}},
};
}  // namespace

void Image::text(double x, double y, const std::string& s, Rgb c, int scale) {
  for (std::size_t k = 0; k < s.size(); ++k) {
    const Glyph* g = nullptr;
    for (const Glyph& f : kFont) g = f.c == s[k] ? &f : g;
    if (!g) throw std::invalid_argument(std::string("Image::text: no glyph for '") + s[k] + "' in \"" + s + "\"");
    const long x0 = std::lround(x) + long(k) * 6 * scale, y0 = std::lround(y);
    for (int r = 0; r < 7; ++r)
      for (int b = 0; b < 5; ++b)
        if (g->rows[r] & (0x10 >> b)) fill(x0 + b * scale, y0 + r * scale, x0 + (b + 1) * scale, y0 + (r + 1) * scale, c);
  }
}

// libpng's simplified API: 8-bit RGB, no interlace; libpng chooses the row filters and compresses.
std::vector<std::uint8_t> encode_png(const Image& img) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = png_uint_32(img.width());
  image.height = png_uint_32(img.height());
  image.format = PNG_FORMAT_RGB;
  png_alloc_size_t size = 0;
  if (!png_image_write_to_memory(&image, nullptr, &size, 0, img.bytes().data(), 0, nullptr))
    throw std::runtime_error(std::string("encode_png: libpng: ") + image.message);
  std::vector<std::uint8_t> out(size);
  if (!png_image_write_to_memory(&image, out.data(), &size, 0, img.bytes().data(), 0, nullptr))
    throw std::runtime_error(std::string("encode_png: libpng: ") + image.message);
  out.resize(size);
  return out;
}

void write_png(const std::string& path, const Image& img) {
  const auto bytes = encode_png(img);
  std::ofstream f(path, std::ios::binary);
  if (f) f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  if (!f) throw std::runtime_error("write_png: cannot write '" + path + "'");
}

}  // namespace chainrule::playground
