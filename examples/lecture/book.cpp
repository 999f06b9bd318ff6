// The course as a book: lessons' text into HTML pages, backward passes into step-through pages (teach/html.hpp).
#include "book.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

#include <chainrule/autograd.hpp>
#include "lessons.hpp"

namespace chainrule::lecture {
namespace {
const char* kMarker = "@@backward ";  // a line the trace sink prints where a backward pass happens

std::string escape(const std::string& s) {
  std::string r;
  for (char c : s) r += c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '&' ? "&amp;" : c == '"' ? "&quot;" : std::string(1, c);
  return r;
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
  f.flush();
  if (!f) throw std::runtime_error("lecture: cannot write '" + path + "': " + std::strerror(errno));
}

const char* kStyle = R"(
body { font-family: Georgia, 'DejaVu Serif', serif; max-width: 980px; margin: 0 auto; padding: 0 20px 40px;
       color: #1f2328; background: #fdfdfb; line-height: 1.45; }
nav { font-family: Helvetica, Arial, sans-serif; font-size: 14px; padding: 12px 0; border-bottom: 1px solid #ddd;
      display: flex; justify-content: space-between; gap: 16px; }
nav > a { white-space: nowrap; } nav span { text-align: right; }
h1 { font-size: 24px; } h1 small { display: block; font-size: 14px; color: #57606a; font-weight: normal; }
pre { font-family: 'DejaVu Sans Mono', Menlo, monospace; font-size: 13.5px; background: white; padding: 10px 14px;
      border: 1px solid #e1e4e8; border-radius: 6px; overflow-x: auto; }
.slip { background: #fff4e5; border-left: 4px solid #d4710b; padding: 6px 12px; margin: 10px 0;
        font-family: 'DejaVu Sans Mono', Menlo, monospace; font-size: 13.5px; white-space: pre-wrap; }
.slip::before { content: 'Slip in the text'; display: block; font-family: Helvetica, Arial, sans-serif;
                font-weight: bold; color: #a34e00; margin-bottom: 2px; }
.backward { margin: 14px 0; }
.backward p { font-family: Helvetica, Arial, sans-serif; font-size: 14px; margin: 4px 0; }
iframe { width: 100%; height: 640px; border: 1px solid #d0d7de; border-radius: 6px; }
ol li { margin: 6px 0; font-size: 17px; }
)";

std::string page(const std::string& title, const std::string& nav, const std::string& body) {
  return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" + escape(title) +
         "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n<nav>" + nav + "</nav>\n" + body +
         "</body>\n</html>\n";
}

// A lesson's printed text as HTML: runs of ordinary lines in <pre> (its tables stay aligned), each "Slip in the
// text" paragraph (the line and its indented continuation) set apart, each backward marker an embedded page.
std::string lesson_body(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  std::string html, pre;
  auto flush = [&] {
    while (!pre.empty() && pre.back() == '\n') pre.pop_back();
    if (!pre.empty()) html += "<pre>" + escape(pre) + "</pre>\n";
    pre.clear();
  };
  const std::string slip = "Slip in the text";
  std::size_t backward = 0;  // the first backward pass is embedded; the others, often the same graph again, linked
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string& l = lines[i];
    const std::size_t s = l.find(slip);
    if (l.rfind(kMarker, 0) == 0) {
      flush();
      const std::string file = l.substr(std::strlen(kMarker));
      if (++backward == 1)
        html += "<div class=\"backward\"><p>The backward pass, one chain-rule product at a time (← → inside the "
                "frame, or <a href=\"" + escape(file) + "\">open it on its own page</a>):</p><iframe src=\"" +
                escape(file) + "\" title=\"backward pass\"></iframe></div>\n";
      else
        html += "<div class=\"backward\"><p><a href=\"" + escape(file) + "\">Step through backward pass " +
                std::to_string(backward) + "</a></p></div>\n";
    } else if (s != std::string::npos && l.find_first_not_of(' ') == s) {
      flush();
      std::string text = l.substr(s + slip.size());
      if (!text.empty() && text[0] == ':') text.erase(0, 1);
      // its continuation lines are indented by exactly two spaces
      while (i + 1 < lines.size() && lines[i + 1].size() > 2 && lines[i + 1].rfind("  ", 0) == 0 &&
             lines[i + 1][2] != ' ')
        text += "\n" + lines[++i];
      html += "<div class=\"slip\">" + escape(text.substr(text.find_first_not_of(' ') == std::string::npos
                                                               ? text.size() : text.find_first_not_of(' '))) +
              "</div>\n";
    } else {
      pre += l + "\n";
    }
  }
  flush();
  return html;
}
}  // namespace

std::size_t write_book(const std::string& dir) {
  std::filesystem::create_directories(dir);
  const auto& all = lessons();
  std::size_t pages = 0;
  std::string index = "<h1>The course, computed<small>Each lesson's numbers as chainrule computes them, the slips "
                      "of the text pointed out, and every backward pass as a page you can step through.</small></h1>"
                      "\n<ol>\n";
  for (std::size_t k = 0; k < all.size(); ++k) {
    const Lesson& l = all[k];
    std::size_t backward = 0;
    set_trace_sink([&](const ChainRuleTrace& trace) {
      const std::string file = std::string(l.name) + "_backward" + std::to_string(++backward) + ".html";
      HtmlOptions o;
      o.title = std::string(l.title) + ": backward pass " + std::to_string(backward);
      write_html(dir + "/" + file, trace, o);
      ++pages;
      return std::string("\n") + kMarker + file + "\n";
    });
    std::ostringstream text;
    l.run(text);
    set_trace_sink({});
    std::string nav = "<a href=\"index.html\">↑ Contents</a><span>";
    if (k > 0) nav += "<a href=\"" + std::string(all[k - 1].name) + ".html\">← " + escape(all[k - 1].title) + "</a>";
    if (k > 0 && k + 1 < all.size()) nav += " · ";
    if (k + 1 < all.size()) nav += "<a href=\"" + std::string(all[k + 1].name) + ".html\">" + escape(all[k + 1].title) + " →</a>";
    nav += "</span>";
    const std::string body = "<h1>" + std::to_string(k + 1) + ". " + escape(l.title) + "<small>lesson " + l.name +
                             " (build/examples/lecture " + l.name + ")</small></h1>\n" + lesson_body(text.str());
    write_file(dir + "/" + l.name + ".html", page(l.title, nav, body));
    ++pages;
    index += "<li><a href=\"" + std::string(l.name) + ".html\">" + escape(l.title) + "</a>" +
             (backward ? " <small>(" + std::to_string(backward) + " backward pass" + (backward > 1 ? "es" : "") + ")</small>" : "") +
             "</li>\n";
  }
  index += "</ol>\n";
  write_file(dir + "/index.html", page("The course, computed", "<span>chainrule lecture --html</span>", index));
  return pages + 1;
}

}  // namespace chainrule::lecture
