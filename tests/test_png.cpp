// The playground's PNG writer (examples/playground/png.hpp, libpng): chunk layout and CRCs checked with zlib, the
// image decoded back by libpng and compared pixel by pixel; the 5×7 text.
#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <png.h>
#include <zlib.h>

#include "../examples/playground/png.hpp"
#include "helpers.hpp"

using chainrule::playground::Image;
using chainrule::playground::Rgb;

namespace {
std::uint32_t get32(const std::vector<std::uint8_t>& b, std::size_t at) {
  return std::uint32_t(b[at]) << 24 | std::uint32_t(b[at + 1]) << 16 | std::uint32_t(b[at + 2]) << 8 | b[at + 3];
}
struct Chunk {
  std::string type;
  std::vector<std::uint8_t> data;
};
// Splits a PNG into chunks, checking the signature and every chunk's CRC-32.
std::vector<Chunk> chunks(const std::vector<std::uint8_t>& png) {
  const std::vector<std::uint8_t> signature = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  REQUIRE(std::vector<std::uint8_t>(png.begin(), png.begin() + 8) == signature);
  std::vector<Chunk> out;
  for (std::size_t at = 8; at < png.size();) {
    const std::uint32_t len = get32(png, at);
    REQUIRE(at + 12 + len <= png.size());
    Chunk c{std::string(png.begin() + long(at + 4), png.begin() + long(at + 8)),
            std::vector<std::uint8_t>(png.begin() + long(at + 8), png.begin() + long(at + 8 + len))};
    CHECK(get32(png, at + 8 + len) == crc32(0, png.data() + at + 4, uInt(len + 4)));
    out.push_back(c);
    at += 12 + len;
  }
  return out;
}
}  // namespace

TEST_CASE("png: IHDR first, IEND last, valid CRCs; libpng decodes the same pixels") {
  Image img(5, 3, {10, 20, 30});
  img.set(0, 0, {255, 0, 0});
  img.set(4, 2, {0, 0, 255});
  img.set(9, 9, {1, 1, 1});  // outside: ignored
  const auto png = chainrule::playground::encode_png(img);
  const auto c = chunks(png);
  REQUIRE(c.size() >= 3);
  CHECK(c.front().type == "IHDR");
  CHECK(c.back().type == "IEND");
  CHECK(c.back().data.empty());
  REQUIRE(c[0].data.size() == 13);
  CHECK(get32(c[0].data, 0) == 5);
  CHECK(get32(c[0].data, 4) == 3);
  CHECK(std::vector<std::uint8_t>(c[0].data.begin() + 8, c[0].data.end()) == std::vector<std::uint8_t>{8, 2, 0, 0, 0});

  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  REQUIRE(png_image_begin_read_from_memory(&image, png.data(), png.size()) != 0);
  image.format = PNG_FORMAT_RGB;
  std::vector<std::uint8_t> px(PNG_IMAGE_SIZE(image));
  REQUIRE(png_image_finish_read(&image, nullptr, px.data(), 0, nullptr) != 0);
  REQUIRE(px.size() == 3 * 5 * 3);
  CHECK(px == img.bytes());
  CHECK(img.at(0, 0) == Rgb{255, 0, 0});
  CHECK(img.at(4, 2) == Rgb{0, 0, 255});
  CHECK(img.at(2, 1) == Rgb{10, 20, 30});
}

TEST_CASE("png: text in the 5×7 font; a character without a glyph is refused") {
  Image img(20, 9);
  img.text(1, 1, "1.", {0, 0, 0});
  // '1': rows 0x04 0x0C 0x04 0x04 0x04 0x04 0x0E; column b of row r is bit 0x10 >> b
  CHECK(img.at(1 + 2, 1 + 0) == Rgb{0, 0, 0});
  CHECK(img.at(1 + 1, 1 + 1) == Rgb{0, 0, 0});
  CHECK(img.at(1 + 0, 1 + 0) == Rgb{255, 255, 255});
  CHECK(img.at(1 + 1, 1 + 6) == Rgb{0, 0, 0});
  CHECK(img.at(1 + 6 + 1, 1 + 5) == Rgb{0, 0, 0});  // '.': the next glyph, 6 pixels on
  Image big(30, 16);
  big.text(0, 0, "1", {0, 0, 0}, 2);  // scale 2: each bit a 2×2 block
  CHECK(big.at(4, 0) == Rgb{0, 0, 0});
  CHECK(big.at(5, 1) == Rgb{0, 0, 0});
  CHECK(big.at(3, 0) == Rgb{255, 255, 255});
  CHECK(test::message([&] { img.text(0, 0, "a%", {0, 0, 0}); }) == "Image::text: no glyph for '%' in \"a%\"");
}

TEST_CASE("png: lines and discs cover the pixels they should") {
  Image img(11, 11);
  img.line(0, 5, 10, 5, {0, 0, 0});
  for (std::size_t x = 0; x < 11; ++x) CHECK(img.at(x, 5) == Rgb{0, 0, 0});
  CHECK(img.at(5, 4) == Rgb{255, 255, 255});
  Image d(11, 11);
  d.disc(5, 5, 2, {1, 2, 3});
  CHECK(d.at(5, 5) == Rgb{1, 2, 3});
  CHECK(d.at(7, 5) == Rgb{1, 2, 3});  // on the rim
  CHECK(d.at(7, 7) == Rgb{255, 255, 255});  // √8 > 2
}

TEST_CASE("png: write_png writes the encoded bytes; errors name the size or the path") {
  Image img(4, 4, {0, 128, 0});
  const test::TempDir dir("chainrule_png");
  const auto path = dir / "frame.png";
  chainrule::playground::write_png(path, img);
  std::ifstream f(path, std::ios::binary);
  const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  CHECK(bytes == chainrule::playground::encode_png(img));
  CHECK(test::message([] { Image(0, 3); }) == "Image: size 0x3 must be between 1x1 and 16384x16384");
  CHECK(test::message([&] { chainrule::playground::write_png("/nonexistent-dir/x.png", img); }) ==
        "write_png: cannot write '/nonexistent-dir/x.png'");
  CHECK(test::message([&] { img.at(4, 0); }) == "Image::at: (4, 0) outside 4x4");
}
