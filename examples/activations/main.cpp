// The course's activation comparison: the same small network (2-16-16-2, softmax output) trained on "two moons"
// with each activation in its hidden layers; a table of the final val_loss / val_accuracy, each History as CSV,
// and a plot of val_loss per epoch (PNG, through gnuplot when it is installed). Then the vanishing gradient: in a
// deeper network (5 hidden layers), hooks on the weights record each layer's gradient norm over the first epochs,
// for sigmoid and ReLU (grad_norms.csv, grad_norms.png).
//   build/examples/activations [--epochs 100] [--grad-epochs 10] [--seed 0] [--out out/activations]
#include "../cli.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "grad_norms.hpp"
#include <chainrule/nn.hpp>

using namespace chainrule;
using activations::moons;

namespace {
double max_abs_diff(const Tensor& a, const Tensor& b) {
  return xt::amax(xt::abs(a.data<float>() - b.data<float>()))();
}

// Each layer's gradient norm per epoch for sigmoid and ReLU: printed, written as CSV, plotted (log scale).
void vanishing_gradient(const std::string& out, std::size_t epochs, std::uint64_t seed, bool plot) {
  activations::GradNormOptions o;
  o.epochs = epochs, o.seed = seed;
  std::printf("\nthe vanishing gradient: 2-16-16-16-16-16-2 network, mean ||dL/dW|| of each Linear layer per epoch "
              "(tensor hooks on the weights)\n");
  std::ofstream csv(out + "/grad_norms.csv");
  csv << "activation,epoch";
  for (std::size_t l = 0; l <= o.hidden_layers; ++l) csv << ",layer" << l;
  csv << "\n";
  for (const std::string act : {"sigmoid", "relu"}) {
    const auto norms = activations::grad_norms(act, o);
    std::printf("%-8s epoch", act.c_str());
    for (std::size_t l = 0; l <= o.hidden_layers; ++l) std::printf("    layer %zu", l);
    std::printf("\n");
    for (std::size_t e = 0; e < norms.size(); ++e) {
      csv << act << "," << e + 1;
      if (e < 3 || e + 1 == norms.size()) std::printf("%13zu", e + 1);
      for (double v : norms[e]) {
        csv << "," << v;
        if (e < 3 || e + 1 == norms.size()) std::printf(" %10.3g", v);
      }
      csv << "\n";
      if (e < 3 || e + 1 == norms.size()) std::printf("\n");
    }
  }
  csv.close();
  std::printf("sigmoid's slope is at most 1/4, so each layer passes back at most a quarter of the gradient it gets:\n"
              "the layers near the input barely learn. ReLU's slope is 1 where it is active.\n");
  std::printf("norms:  %s/grad_norms.csv\n", out.c_str());
  if (!plot) return;
  std::ofstream gp(out + "/grad_norms.gp");
  gp << "set datafile separator ','\nset terminal pngcairo size 900,600 noenhanced\nset output 'grad_norms.png'\n"
     << "set logscale y\nset xlabel 'epoch'\nset ylabel 'mean ||dL/dW|| (log scale)'\nset key outside right\n"
     << "set title 'gradient norm per layer: sigmoid (dashed) vs ReLU (solid)'\nplot ";
  for (std::size_t l = 0; l <= o.hidden_layers; ++l)
    for (const std::string act : {"sigmoid", "relu"})
      gp << (l || act == "relu" ? ", " : "") << "'< grep ^" << act << ", grad_norms.csv' using 2:" << l + 3
         << " with lines lw 2 lc " << l + 1 << (act == "sigmoid" ? " dt 2" : " dt 1") << " title '" << act
         << " layer " << l << "'";
  gp << "\n";
  gp.close();
  if (std::system(("cd '" + out + "' && gnuplot grad_norms.gp").c_str()) == 0)
    std::printf("plot:   %s/grad_norms.png (script %s/grad_norms.gp)\n", out.c_str(), out.c_str());
  else
    std::printf("gnuplot failed on %s/grad_norms.gp\n", out.c_str());
}
}  // namespace

int main(int argc, char** argv) {
  examples::Cli cli("activations", "Compare activation functions on the same network");
  std::size_t epochs = 100;
  std::uint64_t seed = 0;
  std::string out = "out/activations";
  std::size_t grad_epochs = 10;
  cli.option("--epochs", epochs, "training epochs").range(1, 100000).show_default();
  cli.option("--grad-epochs", grad_epochs, "epochs of the gradient-norm study (0: skip it)").range(0, 100000)
      .show_default();
  cli.option("--seed", seed, "seed of the data and the initial weights").show_default();
  cli.option("--out", out, "directory for the CSV files and the plots").show_default();
  if (const int code = cli.parse(argc, argv); code >= 0) return code;
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec) {
    std::cerr << "activations: cannot create the output directory '" << out << "': " << ec.message() << "\n";
    return 2;
  }
  const bool gnuplot = std::system("command -v gnuplot > /dev/null 2>&1") == 0;

  manual_seed(seed);
  auto [x_train, y_train] = moons(1000, 0.2);
  auto [x_val, y_val] = moons(500, 0.2);
  const std::vector<std::string> activations = {"relu",     "leaky_relu",       "sigmoid", "tanh",
                                                "gaussian", "piecewise_linear", "linear",  "step"};

  std::printf("two moons, 1000 training / 500 validation points; 2-16-16-2 network, Adam (lr 1e-3), batch 32, "
              "%zu epochs\n\n", epochs);
  std::printf("%-17s %9s %13s %22s\n", "activation", "val_loss", "val_accuracy", "first layer max |dW|");
  for (const auto& act : activations) {
    manual_seed(seed + 1);  // every network starts from the same initial weights
    nn::Model model;
    model.add(nn::make_dense(2, 16, act)).add(nn::make_dense(16, 16, act)).add(nn::make_dense(16, 2, "softmax"));
    model.compile("adam", "sparse_categorical_crossentropy", {"accuracy"});
    const Tensor w0 = model.net().at<nn::Dense>(0).weight().detach();  // a copy: to see how far training moved it
    nn::FitOptions fo;
    fo.epochs = epochs, fo.batch_size = 32, fo.verbose = 0, fo.seed = seed;
    fo.validation_data = std::pair{x_val, y_val};
    nn::History h = model.fit(x_train, y_train, fo);
    h.to_csv(out + "/" + act + ".csv");
    std::printf("%-17s %9.4f %13.3f %22.4f\n", act.c_str(), h["val_loss"].back(), h["val_accuracy"].back(),
                max_abs_diff(w0, model.net().at<nn::Dense>(0).weight()));
  }
  std::printf("\nsigmoid: its slope is at most 1/4, so gradients shrink layer after layer: still near the linear\n"
              "solution at 100 epochs, and it only creeps down with more (try --epochs 300).\n");
  std::printf("linear: a stack of linear layers is one linear map, so the boundary is a straight line.\n"
              "step: its derivative is 0 everywhere (undefined at the jump), so backpropagation multiplies every\n"
              "gradient reaching the hidden layers by 0: their weights never move (dW = 0 above). Only the output\n"
              "layer learns, on top of fixed random features.\n\n");

  std::printf("curves: %s/<activation>.csv (epoch, accuracy, loss, lr, val_accuracy, val_loss)\n", out.c_str());
  if (!gnuplot) {
    std::printf("gnuplot is not on PATH: no plots (apt-get install gnuplot-nox, then run this again)\n");
    if (grad_epochs) vanishing_gradient(out, grad_epochs, seed, false);
    return 0;
  }
  std::ofstream gp(out + "/val_loss.gp");
  gp << "set datafile separator ','\nset terminal pngcairo size 900,600 noenhanced\nset output 'val_loss.png'\n"
     << "set xlabel 'epoch'\nset ylabel 'val_loss'\nset key outside right\nplot ";
  for (std::size_t i = 0; i < activations.size(); ++i)
    gp << (i ? ", " : "") << "'" << activations[i] << ".csv' using 'epoch':'val_loss' with lines lw 2 title '"
       << activations[i] << "'";
  gp << "\n";
  gp.close();
  if (std::system(("cd '" + out + "' && gnuplot val_loss.gp").c_str()) == 0)
    std::printf("plot:   %s/val_loss.png (script %s/val_loss.gp)\n", out.c_str(), out.c_str());
  else
    std::printf("gnuplot failed on %s/val_loss.gp\n", out.c_str());
  if (grad_epochs) vanishing_gradient(out, grad_epochs, seed, true);
}
