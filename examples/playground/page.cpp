// The playground page: frames and points as data in the page, drawn by a small script on a canvas; the loss chart
// as SVG written here, with its axes, ticks, labels and legend.
#include "page.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace chainrule::playground {
namespace {
std::string num(double v, int precision = 6) {
  if (!std::isfinite(v)) return "null";  // JSON for "not yet": the frame before training has no loss
  if (v == 0) v = 0;
  std::ostringstream s;
  s.precision(precision);
  s << v;
  return s.str();
}

std::string escape(const std::string& s) {
  std::string r;
  for (char c : s) r += c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '&' ? "&amp;" : std::string(1, c);
  return r;
}

// A "nice" tick step (1, 2 or 5 × 10^k) giving about `count` ticks over [0, top].
double tick_step(double top, int count) {
  const double raw = top / count, p = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * p >= raw) return m * p;
  return 10 * p;
}

// The loss chart: training (blue) and test (orange) loss per epoch on axes with ticks, labels and a legend.
std::string loss_chart(const std::vector<double>& train, const std::vector<double>& test) {
  const double W = 520, H = 300, L = 60, R = 20, T = 20, B = 50;
  double top = 0;
  for (double v : train) top = std::max(top, std::isfinite(v) ? v : 0);
  for (double v : test) top = std::max(top, std::isfinite(v) ? v : 0);
  if (top <= 0) top = 1;
  const double ystep = tick_step(top, 5), ymax = std::ceil(top / ystep - 1e-9) * ystep;
  const double n = double(std::max<std::size_t>(train.size(), 1));
  const double xstep = std::max(1.0, tick_step(n, 6));
  auto px = [&](double epoch) { return L + (W - L - R) * epoch / n; };
  auto py = [&](double loss) { return H - B - (H - T - B) * loss / ymax; };
  std::ostringstream s;
  s << "<svg id=\"loss-chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
    << "\" font-family=\"Helvetica,Arial,sans-serif\" font-size=\"12\">\n";
  for (double y = 0; y <= ymax + 1e-12; y += ystep) {  // horizontal grid and y ticks
    s << "<line x1=\"" << L << "\" x2=\"" << W - R << "\" y1=\"" << num(py(y)) << "\" y2=\"" << num(py(y))
      << "\" stroke=\"#e5e5e5\"/><text x=\"" << L - 6 << "\" y=\"" << num(py(y) + 4)
      << "\" text-anchor=\"end\">" << num(y, 4) << "</text>\n";
  }
  for (double x = 0; x <= n + 1e-9; x += xstep)  // x ticks
    s << "<line x1=\"" << num(px(x)) << "\" x2=\"" << num(px(x)) << "\" y1=\"" << H - B << "\" y2=\"" << H - B + 5
      << "\" stroke=\"#333\"/><text x=\"" << num(px(x)) << "\" y=\"" << H - B + 18 << "\" text-anchor=\"middle\">"
      << num(x) << "</text>\n";
  s << "<line x1=\"" << L << "\" y1=\"" << T << "\" x2=\"" << L << "\" y2=\"" << H - B << "\" stroke=\"#333\"/>"
    << "<line x1=\"" << L << "\" y1=\"" << H - B << "\" x2=\"" << W - R << "\" y2=\"" << H - B << "\" stroke=\"#333\"/>\n"
    << "<text x=\"" << (L + W - R) / 2 << "\" y=\"" << H - 10 << "\" text-anchor=\"middle\">epoch</text>"
    << "<text transform=\"translate(16," << (T + H - B) / 2 << ") rotate(-90)\" text-anchor=\"middle\">"
    << "binary cross-entropy</text>\n";
  auto curve = [&](const std::vector<double>& v, const char* colour) {
    s << "<polyline fill=\"none\" stroke=\"" << colour << "\" stroke-width=\"2\" points=\"";
    for (std::size_t i = 0; i < v.size(); ++i)
      if (std::isfinite(v[i])) s << num(px(double(i + 1))) << "," << num(py(v[i])) << " ";
    s << "\"/>\n";
  };
  curve(test, "#f59322");
  curve(train, "#0877bd");
  s << "<line id=\"epoch-marker\" x1=\"" << L << "\" x2=\"" << L << "\" y1=\"" << T << "\" y2=\"" << H - B
    << "\" stroke=\"#888\" stroke-dasharray=\"4 3\"/>\n"
    << "<g transform=\"translate(" << W - R - 130 << "," << T + 6 << ")\"><rect width=\"128\" height=\"42\" "
    << "fill=\"white\" stroke=\"#ccc\"/><line x1=\"8\" x2=\"30\" y1=\"14\" y2=\"14\" stroke=\"#0877bd\" "
    << "stroke-width=\"2\"/><text x=\"36\" y=\"18\">training loss</text><line x1=\"8\" x2=\"30\" y1=\"32\" y2=\"32\" "
    << "stroke=\"#f59322\" stroke-width=\"2\"/><text x=\"36\" y=\"36\">test loss</text></g>\n</svg>\n";
  return s.str();
}

const char* kScript = R"(
(function () {
  var canvas = document.getElementById('boundary'), ctx = canvas.getContext('2d');
  var slider = document.getElementById('frame'), play = document.getElementById('play'), timer = null;
  var S = canvas.width, G = D.grid;
  function mix(t) {  // white → blue (class 1) or orange (class 0), as the PNG frames
    var c = t > 0 ? [8, 119, 189] : [245, 147, 34], a = 0.6 * Math.abs(t);
    return 'rgb(' + c.map(function (v) { return Math.round((1 - a) * 255 + a * v); }).join(',') + ')';
  }
  function toPx(x, y) { return [(x - D.x0) / (D.x1 - D.x0) * S, (D.y1 - y) / (D.y1 - D.y0) * S]; }
  function fmt(v) { return v === null ? '–' : v.toFixed(4); }
  function show(k) {
    var f = D.frames[k], cell = S / G;
    for (var j = 0; j < G; ++j)
      for (var i = 0; i < G; ++i) {
        ctx.fillStyle = mix(2 * parseInt(f.p.substr(2 * (j * G + i), 2), 16) / 255 - 1);
        ctx.fillRect(Math.floor(i * cell), Math.floor(j * cell), Math.ceil(cell), Math.ceil(cell));
      }
    function dots(pts, rim) {
      pts.forEach(function (p) {
        var q = toPx(p[0], p[1]);
        ctx.beginPath(); ctx.arc(q[0], q[1], 4, 0, 2 * Math.PI); ctx.fillStyle = rim; ctx.fill();
        ctx.beginPath(); ctx.arc(q[0], q[1], 3, 0, 2 * Math.PI);
        ctx.fillStyle = p[2] ? '#0877bd' : '#f59322'; ctx.fill();
      });
    }
    dots(D.train, 'white');
    dots(D.test, '#3c3c3c');
    var text = f.epoch === 0 ? 'epoch 0 (untrained)' :
      'epoch ' + f.epoch + '   training loss ' + fmt(f.loss) + '   test loss ' + fmt(f.val_loss);
    ctx.font = 'bold 14px Helvetica, Arial, sans-serif';
    ctx.fillStyle = 'rgba(255,255,255,0.85)'; ctx.fillRect(0, 0, S, 24);
    ctx.fillStyle = '#1f2328'; ctx.fillText(text, 8, 17);
    document.getElementById('frame-info').textContent = text +
      (f.epoch === 0 ? '' : '   test accuracy ' + f.val_accuracy.toFixed(3));
    var m = document.getElementById('epoch-marker'), x = 60 + (520 - 80) * f.epoch / Math.max(D.epochs, 1);
    m.setAttribute('x1', x); m.setAttribute('x2', x);
    slider.value = k;
    if (location.hash !== '#frame=' + k) history.replaceState(null, '', '#frame=' + k);
  }
  slider.max = D.frames.length - 1;
  slider.oninput = function () { stop(); show(parseInt(slider.value, 10)); };
  function stop() { if (timer) clearInterval(timer); timer = null; play.textContent = '▶ Play'; }
  play.onclick = function () {
    if (timer) return stop();
    var k = parseInt(slider.value, 10);
    if (k >= D.frames.length - 1) k = -1;
    play.textContent = '❚❚ Pause';
    timer = setInterval(function () { if (++k >= D.frames.length) return stop(); show(k); }, 250);
  };
  document.addEventListener('keydown', function (ev) {
    var k = parseInt(slider.value, 10);
    if (ev.key === 'ArrowRight') { stop(); show(Math.min(k + 1, D.frames.length - 1)); }
    if (ev.key === 'ArrowLeft') { stop(); show(Math.max(k - 1, 0)); }
  });
  var m = /frame=(\d+)/.exec(location.hash);
  show(m ? Math.min(parseInt(m[1], 10), D.frames.length - 1) : D.frames.length - 1);
})();
)";
}  // namespace

std::string to_html(const Page& pg) {
  std::ostringstream d;  // the data, as a JS object literal (numbers and hex strings only)
  d << "{\"grid\":" << pg.grid << ",\"x0\":" << num(pg.x0, 17) << ",\"x1\":" << num(pg.x1, 17) << ",\"y0\":"
    << num(pg.y0, 17) << ",\"y1\":" << num(pg.y1, 17) << ",\"epochs\":" << pg.loss.size() << ",\"frames\":[";
  for (std::size_t k = 0; k < pg.frames.size(); ++k) {
    const Frame& f = pg.frames[k];
    d << (k ? "," : "") << "{\"epoch\":" << f.epoch << ",\"loss\":" << num(f.loss, 17) << ",\"val_loss\":"
      << num(f.val_loss, 17) << ",\"val_accuracy\":" << num(f.val_accuracy, 17) << ",\"p\":\"";
    char hex[3];
    for (float p : f.p) {  // P(class 1) in 1/255 steps: two hex digits a cell
      std::snprintf(hex, sizeof hex, "%02x", unsigned(std::lround(std::clamp(double(p), 0.0, 1.0) * 255)));
      d << hex;
    }
    d << "\"}";
  }
  auto points = [&](const std::vector<Point>& v) {
    d << "[";
    for (std::size_t k = 0; k < v.size(); ++k)
      d << (k ? "," : "") << "[" << num(v[k].x, 6) << "," << num(v[k].y, 6) << "," << v[k].label << "]";
    d << "]";
  };
  d << "],\"train\":";
  points(pg.train);
  d << ",\"test\":";
  points(pg.test);
  d << "}";
  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" << escape(pg.title)
    << "</title>\n<style>\nbody { font-family: Helvetica, Arial, sans-serif; margin: 0; color: #1f2328; "
       "background: #fafafa; }\nheader { padding: 10px 18px; background: #24292f; color: white; }\n"
       "header h1 { font-size: 18px; margin: 0; } header p { margin: 4px 0 0; font-size: 13px; color: #d0d7de; }\n"
       "main { display: flex; flex-wrap: wrap; gap: 20px; padding: 16px; align-items: flex-start; }\n"
       ".card { flex: none; background: white; border: 1px solid #d0d7de; border-radius: 6px; padding: 10px; }\n"
       "#controls, #frame-info, .legend { width: 420px; }\n"
       "#controls { display: flex; gap: 10px; align-items: center; margin-top: 8px; }\n"
       "#frame { flex: 1; } #frame-info { font-size: 13px; margin-top: 6px; font-variant-numeric: tabular-nums; }\n"
       ".legend { font-size: 12px; color: #57606a; margin-top: 6px; }\n</style>\n</head>\n<body>\n<header><h1>"
    << escape(pg.title) << "</h1><p>" << escape(pg.subtitle) << "</p></header>\n<main>\n<div class=\"card\">\n"
    << "<canvas id=\"boundary\" width=\"420\" height=\"420\"></canvas>\n<div id=\"controls\"><button id=\"play\">"
    << "▶ Play</button><input id=\"frame\" type=\"range\" min=\"0\" value=\"0\"></div>\n<div id=\"frame-info\"></div>\n"
    << "<div class=\"legend\">Shading: P(class 1), blue for 1, orange for 0. White-rimmed dots: training points; "
       "dark-rimmed: test points. ← → step through the frames; link one with #frame=k.</div>\n</div>\n"
    << "<div class=\"card\">\n" << loss_chart(pg.loss, pg.val_loss) << "</div>\n</main>\n<script>\nvar D = "
    << d.str() << ";\n" << kScript << "</script>\n</body>\n</html>\n";
  return h.str();
}

void write_html(const std::string& path, const Page& page) {
  const std::string text = to_html(page), tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary);
    f << text;
    f.flush();
    if (!f) {
      const std::string why = std::strerror(errno);
      std::remove(tmp.c_str());
      throw std::runtime_error("playground: cannot write '" + path + "': " + why);
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    throw std::runtime_error("playground: cannot rename '" + tmp + "' to '" + path + "': " + std::strerror(errno));
}

}  // namespace chainrule::playground
