// The course's worked examples, lesson by lesson (examples/lecture/lessons.hpp).
//   build/examples/lecture              every lesson, in the order of the text
//   build/examples/lecture --list       the lessons' names and titles
//   build/examples/lecture backprop     one lesson (or several: lecture mse xor)
//   build/examples/lecture --trace backprop    with the chain-rule trace of each backward pass
//   build/examples/lecture --html out/lecture  the course as a book: a page per lesson and an index
#include "../cli.hpp"

#include <iostream>

#include <chainrule/version.hpp>

#include "book.hpp"
#include "lessons.hpp"

using namespace chainrule;

int main(int argc, char** argv) {
  examples::Cli cli("lecture",
                    "The course's worked examples, computed by chainrule, with the text's slips pointed out");
  std::vector<std::string> names;
  bool list = false, trace = false;
  cli.option("lessons", names, "lessons to run (default: all)");
  cli.flag("--list", list, "list the lessons and exit");
  cli.flag("--trace", trace, "print the chain-rule trace of each backward pass");
  std::string html_dir;
  cli.option("--html", html_dir, "write the course as web pages into this directory (index.html first)");
  if (const int code = cli.parse(argc, argv); code >= 0) return code;

  if (!html_dir.empty()) {
    try {
      const std::size_t pages = lecture::write_book(html_dir);
      std::cout << "wrote " << pages << " pages: " << html_dir << "/index.html (open it in a browser)\n";
      return 0;
    } catch (const std::exception& e) {
      std::cerr << "lecture: " << e.what() << "\n";
      return 1;
    }
  }
  if (list) {
    for (const auto& l : lecture::lessons()) std::cout << "  " << l.name << std::string(16 - std::string(l.name).size(), ' ')
                                                       << l.title << "\n";
    return 0;
  }
  std::vector<const lecture::Lesson*> run;
  try {
    for (const auto& n : names) run.push_back(&lecture::lesson(n));
  } catch (const std::invalid_argument& e) {
    std::cerr << e.what() << "\n";  // "lecture: no lesson 'x' (lessons: ...)"
    return 2;
  }
  lecture::set_trace(trace);
  if (run.empty())
    for (const auto& l : lecture::lessons()) run.push_back(&l);
  for (std::size_t i = 0; i < run.size(); ++i) {
    std::cout << (i ? "\n" : "") << "=== " << run[i]->name << ": " << run[i]->title << " ===\n";
    run[i]->run(std::cout);
  }
}
