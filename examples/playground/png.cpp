#include "examples/playground/png.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <stdexcept>

#include <zlib.h>

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
void put32(std::vector<std::uint8_t>& out, std::uint32_t v) {  // big-endian, as PNG stores every integer
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(std::uint8_t(v >> shift));
}
// length, type, data, CRC-32 of type + data
void chunk(std::vector<std::uint8_t>& out, const char* type, const std::vector<std::uint8_t>& data) {
  put32(out, std::uint32_t(data.size()));
  const std::size_t start = out.size();
  out.insert(out.end(), type, type + 4);
  out.insert(out.end(), data.begin(), data.end());
  put32(out, std::uint32_t(crc32(0, out.data() + start, uInt(out.size() - start))));
}
}  // namespace

std::vector<std::uint8_t> encode_png(const Image& img) {
  std::vector<std::uint8_t> out = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  std::vector<std::uint8_t> ihdr;
  put32(ihdr, std::uint32_t(img.width()));
  put32(ihdr, std::uint32_t(img.height()));
  ihdr.insert(ihdr.end(), {8, 2, 0, 0, 0});  // 8 bits per channel, colour type 2 (RGB), deflate, filter 0, no interlace
  chunk(out, "IHDR", ihdr);

  // Each row is preceded by its filter type (0: bytes as they are).
  const std::size_t row = 3 * img.width();
  std::vector<std::uint8_t> raw;
  raw.reserve((row + 1) * img.height());
  for (std::size_t y = 0; y < img.height(); ++y) {
    raw.push_back(0);
    raw.insert(raw.end(), img.bytes().begin() + long(y * row), img.bytes().begin() + long((y + 1) * row));
  }
  uLongf size = compressBound(uLong(raw.size()));
  std::vector<std::uint8_t> idat(size);
  if (compress2(idat.data(), &size, raw.data(), uLong(raw.size()), Z_BEST_SPEED) != Z_OK)
    throw std::runtime_error("encode_png: zlib compress2 failed");
  idat.resize(size);
  chunk(out, "IDAT", idat);
  chunk(out, "IEND", {});
  return out;
}

void write_png(const std::string& path, const Image& img) {
  const auto bytes = encode_png(img);
  std::ofstream f(path, std::ios::binary);
  if (f) f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  if (!f) throw std::runtime_error("write_png: cannot write '" + path + "'");
}

}  // namespace chainrule::playground
