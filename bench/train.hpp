#pragma once
// The training workloads of bench_train, implemented once with chainrule (train_chainrule.cpp), once with libtorch
// (train_torch.cpp, or the stand-ins of train_no_torch.cpp), and once as the raw sgemm calls of a step
// (train_chainrule.cpp): same architecture, loss, optimizer, batch and float32 in every one.
#include <cstddef>
#include <string>
#include <vector>

namespace bench {

/// One training step, repeated on fixed random data: forward, loss, backward, optimizer step.
struct TrainCase {
  std::string id;                  // "a"
  std::vector<std::size_t> sizes;  // layer widths, input first: {784, 128, 64, 10}
  bool sigmoid = false;            // sigmoid after EVERY layer (XOR) and MSE; else ReLU between layers and CE
  std::size_t batch = 32;
  bool adam = false;               // Adam, else plain SGD
  double lr = 0.01;
  std::string describe() const;    // "784-128-64-10 ReLU, CE, batch 64, Adam 1e-3"
};
/// Cases a–d of the benchmark.
std::vector<TrainCase> train_cases();

struct Data;
/// The fixed batch a case trains on, the same numbers for every implementation: XOR's truth table for case a,
/// else N(0,1) inputs and uniform labels from std::mt19937 (seed 1). Labels are stored as float.
Data case_batch(const TrainCase& c);

/// Inputs [n, d] and targets for case f (Fashion-MNIST): pixels/255 and class indices stored as float.
struct Data {
  std::vector<float> x, y;
  std::size_t n = 0, d = 0;
};

// Median nanoseconds per training step (samples: how many timed samples; the median is taken).
double chainrule_step_ns(const TrainCase& c, int samples);
double torch_step_ns(const TrainCase& c, int samples);
/// `steps` untimed chainrule steps (for profilers: bench_train --impl chainrule --case c --steps 200).
void chainrule_run_steps(const TrainCase& c, long steps);
/// The GEMM floor: the sgemm calls of one step (3 forward; dW = Xᵀ·g for each layer, dX = g·Wᵀ for all but the
/// first), by cblas_sgemm into preallocated buffers, nothing else.
double sgemm_floor_ns(const TrainCase& c, int samples);
/// Number of sgemm calls sgemm_floor_ns makes per step.
int sgemm_floor_calls(const TrainCase& c);

/// Case f: 784-128-64-10 ReLU, CE, Adam 1e-3, batch 64, reshuffled each epoch. Median seconds per epoch over
/// `epochs` epochs (the first one, a warm-up, is not counted). Each call returns the last epoch's mean loss in *loss.
bool fashion_mnist_available();
Data load_fashion_mnist_data();  // through nn::load_fashion_mnist; empty if the files are absent
/// Each takes its own copy of the data, converts it, frees the copy and resets the peak RSS before training, so
/// that a child process's peak is the training's: the dataset once, the network, the optimizer, the tape.
double chainrule_epoch_s(Data d, int epochs, double* loss);      // the step written with the engine
double chainrule_fit_epoch_s(Data d, int epochs, double* loss);  // nn::Model::fit, verbose 0
double torch_epoch_s(Data d, int epochs, double* loss);

/// Case g: one Hessian-vector product of case c's loss (784-128-64-10 ReLU, CE, batch 64) with respect to all six
/// parameters. The same numbers on both sides: case c's batch, weights W:[in,out] and b ~ N(0, 0.05²), and v ~ N(0,1)
/// per parameter (std::mt19937, seed 2). Order: W1, b1, W2, b2, W3, b3.
struct HvpData {
  Data batch;
  std::vector<std::vector<std::size_t>> shapes;
  std::vector<std::vector<float>> params, v;
};
HvpData hvp_data();
/// Median nanoseconds of one H·v (forward, backward with create_graph, second backward); *grad_ns gets the median of
/// one gradient of the same loss (forward, backward), the denominator of the hvp/grad cost ratio.
double chainrule_hvp_ns(int samples, double* grad_ns);
double torch_hvp_ns(int samples, double* grad_ns);
/// n untimed chainrule H·v products (for profilers: bench_train --impl chainrule --case g --steps 200).
void chainrule_run_hvps(long n);

bool have_torch();
/// "libtorch 1.13.0", or "without libtorch".
std::string torch_version();
void set_torch_threads(int n);
/// Subnormal numbers flushed to zero (on) or kept (off, both libraries' default) on the calling thread:
/// chainrule::set_flush_denormal and at::globalContext().setFlushDenormal.
void set_chainrule_flush_denormal(bool on);
/// chainrule::set_num_threads (its intra-op pool; OpenBLAS stays at 1 thread).
void set_chainrule_threads(int n);
/// FitOptions::flush_denormal of the f-fit workload (default true, fit's own default).
void set_fit_flush_denormal(bool on);
void set_torch_flush_denormal(bool on);

/// Peak resident set size of this process so far (VmHWM), in KiB; reset_peak_rss() sets it back to the current
/// RSS (Linux ≥ 4.0), so that a workload's peak does not include what setting it up took.
long peak_rss_kb();
long current_rss_kb();
bool reset_peak_rss();

}  // namespace bench
