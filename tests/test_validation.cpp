// Input validation at the public entry points, as one table: each bad call and the exact message it must give.
// Every message names the function (or the module / optimizer), the argument and the offending value or shapes.
// (Each module's own test file has its cases in context too; this table is the inventory.)
#include <doctest/doctest.h>

#include "helpers.hpp"

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <chainrule/autograd.hpp>
#include <chainrule/nn.hpp>
#include <chainrule/optim.hpp>

using namespace chainrule;
using test::message;

namespace {

struct BadCall {
  const char* what;
  std::function<void()> call;
  std::string expected;
};

void run_table(const std::vector<BadCall>& cases) {
  for (const BadCall& c : cases) {
    const std::string what = c.what;
    CAPTURE(what);
    CHECK(message(c.call) == c.expected);
  }
}

const double kNaN = std::nan("");
const double kInfinity = std::numeric_limits<double>::infinity();

std::vector<Tensor> params() { return {zeros({2, 2}).requires_grad_()}; }

}  // namespace

TEST_CASE("validation: autograd ops name the op, the argument and the shapes or values") {
  const Tensor a = zeros({2, 3}), b = zeros({4, 5}), v = zeros({3}), d = zeros({2, 3}, kFloat64);
  run_table({
      {"matmul inner", [&] { matmul(a, b); }, "matmul: [2,3] x [4,5]: inner dimensions 3 and 4 differ"},
      {"add broadcast", [&] { add(a, b); }, "add: shapes [2,3] and [4,5] cannot broadcast (axis 0: 2 vs 4)"},
      {"mul dtypes", [&] { mul(a, d); }, "mul: dtypes differ: float32 and float64 (convert one with .to())"},
      {"undefined input", [&] { add(Tensor(), a); },
       "Tensor: use of an undefined tensor (default-constructed or an absent grad)"},
      {"reshape size", [&] { reshape(a, {4, 2}); }, "reshape: cannot view [2,3] (6 elements) as [4,2]"},
      {"reshape two -1", [&] { reshape(a, {-1, -1}); }, "reshape: bad size -1 (only one −1 is allowed)"},
      {"reshape -5", [&] { reshape(a, {-5, 2}); }, "reshape: bad size -5 (only one −1 is allowed)"},
      {"transpose 1-D", [&] { transpose(v); }, "transpose: needs a 2-D tensor, got [3]"},
      {"permute repeated axis", [&] { permute(a, {0, 0}); },
       "permute: axes [0,0] are not a permutation of the 2 axes of shape [2,3]"},
      {"permute out of range", [&] { permute(a, {0, 2}); },
       "permute: axes [0,2] are not a permutation of the 2 axes of shape [2,3]"},
      {"concat nothing", [&] { concat({}); }, "concat: no tensors given"},
      {"concat shapes", [&] { concat({a, b}, 0); },
       "concat: tensor #1 has shape [4,5], which differs from [2,3] off axis 0"},
      {"concat axis", [&] { concat({a, a}, 2); }, "concat: axis 2 out of range for shape [2,3]"},
      {"gather index", [&] { gather(a, {0, 5}); }, "gather: index 5 at row 1 is out of range for 3 classes"},
      {"sum axis", [&] { sum(a, {2}); }, "sum: axis 2 out of range for shape [2,3]"},
      {"sum repeated axis", [&] { sum(a, {0, 0}); }, "sum: axis 0 is given twice (shape [2,3])"},
      {"mean axis", [&] { mean(a, {-3}); }, "mean: axis -3 out of range for shape [2,3]"},
      {"max of empty", [&] { max(zeros({0})); }, "max: reducing [0] over an empty axis"},
      {"softmax axis", [&] { softmax(a, 2); }, "softmax: axis 2 out of range for shape [2,3]"},
      {"log_softmax axis", [&] { log_softmax(a, -3); }, "log_softmax: axis -3 out of range for shape [2,3]"},
      {"clamp lo > hi", [&] { clamp(a, 1, 0); }, "clamp: lo (1.000000) must be <= hi (0.000000)"},
      {"clamp NaN", [&] { clamp(a, kNaN, 1); }, "clamp: lo (nan) must be <= hi (1.000000)"},
      {"leaky_relu NaN slope", [&] { leaky_relu(a, kNaN); }, "leaky_relu: slope must be finite, got nan"},
      {"piecewise_linear", [&] { piecewise_linear(a, 1, 1); },
       "piecewise_linear: need x_min < x_max, got 1.000000 and 1.000000"},
      {"where shapes", [&] { where(zeros({5}), a, a); },
       "where: shapes [5] and [2,3] cannot broadcast (axis 1: 5 vs 3)"},
      {"affine shapes", [&] { affine(a, zeros({3, 4}), zeros({5})); },
       "affine: x [2,3], W [3,4], b [5]: expected x:[...,K], W:[K,M], b:[M]"},
      {"item", [&] { a.item(); }, "item: tensor of shape [2,3] has 6 elements, not 1"},
      {"size axis", [&] { a.size(2); }, "Tensor::size: axis 2 out of range for shape [2,3]"},
      {"backward non-scalar", [&] { (zeros({2}).requires_grad_() * zeros({2})).backward(); },
       "backward: tensor of shape [2] is not a scalar; pass its gradient explicitly: t.backward(gradient)"},
      {"requires_grad_ non-leaf", [&] { (zeros({2}).requires_grad_() * 2.0).requires_grad_(); },
       "requires_grad_: only leaves can be marked; this tensor comes from 'mul' (use detach() first)"},
      {"from_vector", [&] { from_vector({1, 2}, {3}); }, "from_vector: 2 values do not fill shape [3] (3 elements)"},
      {"arange step 0", [&] { arange(0, 1, 0); },
       "arange: need finite start/end and a nonzero step, got start 0, end 1, step 0"},
      {"arange too many", [&] { arange(0, 1e30, 1e-30); },
       "arange: [0, 1e+30) in steps of 1e-30 has 1e+60 elements, too many"},
      {"arange NaN", [&] { arange(0, kNaN, 1); },
       "arange: need finite start/end and a nonzero step, got start 0, end nan, step 1"},
      {"randn std", [&] { randn({2}, kFloat32, 0, -1); }, "randn: std must be >= 0, got -1.000000"},
      {"rand range", [&] { rand({2}, kFloat32, 1, 1); }, "rand: need low < high, got low 1, high 1"},
  });
}

TEST_CASE("validation: layers, activations and initializers name the module and the value") {
  run_table({
      {"Linear in 0", [] { nn::Linear m(0, 3); }, "Linear: in and out must be >= 1, got in=0, out=3"},
      {"Linear out 0", [] { nn::Linear m(3, 0); }, "Linear: in and out must be >= 1, got in=3, out=0"},
      {"Linear input width", [] { nn::Linear(3, 2).forward(zeros({4, 5})); },
       "Linear(in=3, out=2): input has 5 features per row ([4,5]), expected 3"},
      {"Linear input dtype", [] { nn::Linear(3, 2).forward(zeros({4, 3}, kFloat64)); },
       "Linear(in=3, out=2): input is float64, parameters are float32 (convert the input with .to())"},
      {"Linear 0-d input", [] { nn::Linear(3, 2).forward(tensor(1.0)); },
       "Linear(in=3, out=2): input must be [N,3] or [3], got a scalar"},
      {"Dense activation", [] { nn::Dense m(3, 2, "swish"); },
       "make_activation: unknown activation 'swish'; valid names: linear, step, piecewise_linear, sigmoid, gaussian, "
       "tanh, relu, leaky_relu, softmax, log_softmax"},
      {"Dropout p > 1", [] { nn::Dropout m(1.5); }, "Dropout: p must be in [0, 1], got 1.5"},
      {"Dropout p < 0", [] { nn::Dropout m(-0.1); }, "Dropout: p must be in [0, 1], got -0.1"},
      {"Dropout NaN", [] { nn::Dropout m(kNaN); }, "Dropout: p must be in [0, 1], got nan"},
      {"BatchNorm1d features 0", [] { nn::BatchNorm1d m(0); }, "BatchNorm1d: features must be >= 1, got 0"},
      {"BatchNorm1d eps", [] { nn::BatchNorm1d::Options o; o.eps = 0; nn::BatchNorm1d m(4, o); },
       "BatchNorm1d: eps must be > 0, got 0.000000"},
      {"BatchNorm1d momentum", [] { nn::BatchNorm1d::Options o; o.momentum = 1.5; nn::BatchNorm1d m(4, o); },
       "BatchNorm1d: momentum must be in [0, 1], got 1.500000"},
      {"BatchNorm1d width", [] { nn::BatchNorm1d(4)(zeros({8, 3})); },
       "BatchNorm1d(features=4): expected input [N,4], got [8,3]"},
      {"BatchNorm1d batch of 1", [] { nn::BatchNorm1d(4)(zeros({1, 4})); },
       "BatchNorm1d: expected more than 1 value per channel when training, got input [1,4]"},
      {"LeakyReLU NaN", [] { nn::LeakyReLU m(kNaN); }, "LeakyReLU: slope must be finite, got nan"},
      {"LinearActivation inf", [] { nn::LinearActivation m(kInfinity, 0); },
       "LinearActivation: a and b must be finite, got a=inf, b=0"},
      {"PiecewiseLinear", [] { nn::PiecewiseLinear m(1, -1); },
       "PiecewiseLinear: need x_min < x_max, got x_min=1, x_max=-1"},
      {"make_activation", [] { nn::make_activation("swish"); },
       "make_activation: unknown activation 'swish'; valid names: linear, step, piecewise_linear, sigmoid, gaussian, "
       "tanh, relu, leaky_relu, softmax, log_softmax"},
      {"MLP sizes", [] { nn::MLP({3}); }, "MLP: need at least 2 sizes (inputs and outputs), got 1"},
      {"MLP zero width", [] { nn::MLP({3, 0, 2}); }, "Linear: in and out must be >= 1, got in=3, out=0"},
      {"Sequential null", [] { nn::Sequential().add(nullptr); }, "Sequential::add: module 0 is null"},
      {"Sequential index", [] { (void)nn::Sequential()[3]; }, "Sequential: index 3 out of range (size 0)"},
      {"uniform_ a >= b", [] { nn::init::uniform_(zeros({2}), 1, 1); },
       "init::uniform_: need a < b, got a = 1.000000, b = 1.000000"},
      {"normal_ std", [] { nn::init::normal_(zeros({2}), 0, -1); }, "init::normal_: std must be >= 0, got -1.000000"},
  });
}

TEST_CASE("validation: losses, penalties and label helpers name the function, the argument and the value") {
  const Tensor p = full({3}, 0.5), t = zeros({3}), logits = zeros({2, 3});
  run_table({
      {"mse shapes", [&] { nn::mse_loss(p, zeros({2})); }, "mse_loss: prediction [3] and target [2] differ in shape"},
      {"mse dtypes", [&] { nn::mse_loss(p, zeros({3}, kFloat64)); },
       "mse_loss: prediction is float32, target is float64"},
      {"bce range", [&] { nn::binary_cross_entropy(full({3}, 1.5), t); },
       "binary_cross_entropy: probabilities must lie in [0, 1], got 1.5 at element 0"},
      {"bce NaN", [&] { nn::binary_cross_entropy(full({3}, kNaN), t); },
       "binary_cross_entropy: probabilities must lie in [0, 1], got nan at element 0"},
      {"cross_entropy label", [&] { nn::cross_entropy(logits, std::vector<std::size_t>{0, 3}); },
       "cross_entropy: label 3 at row 1 is out of range for C = 3 classes"},
      {"cross_entropy count", [&] { nn::cross_entropy(logits, std::vector<std::size_t>{0}); },
       "cross_entropy: 1 labels for logits [2,3] (one per row expected)"},
      {"cross_entropy 1-D logits", [&] { nn::cross_entropy(zeros({3}), std::vector<std::size_t>{0}); },
       "cross_entropy: logits must be [N,C], got [3]"},
      {"cross_entropy fractional label", [&] { nn::cross_entropy(logits, tensor({0.0, 1.5})); },
       "cross_entropy: target 1.5 at row 1 is not a class index (an integer in [0, 3))"},
      {"cross_entropy negative label", [&] { nn::cross_entropy(logits, tensor({0.0, -1.0})); },
       "cross_entropy: target -1 at row 1 is not a class index (an integer in [0, 3))"},
      {"loss_by_name", [] { nn::loss_by_name("hinge"); },
       "loss_by_name: unknown loss 'hinge'; valid names: mean_squared_error, mse, mean_absolute_error, mae, "
       "binary_crossentropy, categorical_crossentropy, sparse_categorical_crossentropy"},
      {"Penalty alpha", [] { nn::Penalty::l2(-1)(nn::Linear(2, 2)); },
       "Penalty: alpha must be a finite number >= 0, got -1"},
      {"Penalty alpha NaN", [] { nn::Penalty::l1(kNaN)(nn::Linear(2, 2)); },
       "Penalty: alpha must be a finite number >= 0, got nan"},
      {"Penalty r > 1", [] { nn::Penalty::elastic_net(0.1, 1.5)(nn::Linear(2, 2)); },
       "Penalty: r must be in [0, 1], got 1.5"},
      {"Penalty r < 0", [] { nn::elastic_net_penalty(nn::Linear(2, 2), -0.5); },
       "elastic_net_penalty: r must be in [0, 1], got -0.5"},
      {"one_hot label", [] { nn::one_hot(std::vector<std::size_t>{0, 4}, 3); },
       "one_hot: label 4 at row 1 is out of range for num_classes = 3 (labels must be 0..2)"},
      {"one_hot classes 0", [] { nn::one_hot(std::vector<std::size_t>{0}, 0); },
       "one_hot: num_classes must be positive"},
      {"to_labels negative", [] { nn::to_labels(tensor({1.0, -2.0})); },
       "to_labels: value -2 at row 1 is not a class index (a non-negative integer)"},
      {"to_labels fraction", [] { nn::to_labels(from_vector({0.5}, {1})); },
       "to_labels: value 0.5 at row 0 is not a class index (a non-negative integer)"},
      {"to_labels NaN", [] { nn::to_labels(from_vector({kNaN}, {1})); },
       "to_labels: value nan at row 0 is not a class index (a non-negative integer)"},
      {"argmax 1-D", [] { nn::argmax(zeros({3})); }, "argmax: expects scores of shape [N, C] with C >= 1, got [3]"},
  });
}

TEST_CASE("validation: optimizers name themselves, the option and its value") {
  run_table({
      {"no parameters", [] { optim::SGD m({}, optim::SGD::Options{}); }, "SGD: given no parameters to optimize"},
      {"not a leaf", [] { optim::Adam m({zeros({2})}, optim::Adam::Options{}); },
       "Adam: parameter #0 is not a leaf tensor with requires_grad"},
      {"SGD lr < 0", [] { optim::SGD::Options o; o.lr = -0.1; optim::SGD m(params(), o); },
       "SGD: lr must be >= 0 and finite, got -0.1"},
      {"SGD lr NaN", [] { optim::SGD::Options o; o.lr = kNaN; optim::SGD m(params(), o); },
       "SGD: lr must be >= 0 and finite, got nan"},
      {"SGD momentum", [] { optim::SGD::Options o; o.momentum = -1; optim::SGD m(params(), o); },
       "SGD: momentum must be >= 0, got -1"},
      {"SGD dampening", [] { optim::SGD::Options o; o.dampening = 2; optim::SGD m(params(), o); },
       "SGD: dampening must be in [0, 1], got 2"},
      {"SGD nesterov", [] { optim::SGD::Options o; o.nesterov = true; optim::SGD m(params(), o); },
       "SGD: momentum must be > 0 with nesterov, got 0"},
      {"SGD weight_decay", [] { optim::SGD::Options o; o.weight_decay = -1e-4; optim::SGD m(params(), o); },
       "SGD: weight_decay must be >= 0, got -0.0001"},
      {"Adam beta1", [] { optim::Adam::Options o; o.beta1 = 1; optim::Adam m(params(), o); },
       "Adam: beta1 must be in [0, 1), got 1"},
      {"Adam beta2", [] { optim::Adam::Options o; o.beta2 = -0.5; optim::Adam m(params(), o); },
       "Adam: beta2 must be in [0, 1), got -0.5"},
      {"Adam eps", [] { optim::Adam::Options o; o.eps = -1e-8; optim::Adam m(params(), o); },
       "Adam: eps must be >= 0, got -1e-08"},
      {"RMSprop alpha", [] { optim::RMSprop::Options o; o.alpha = 1.5; optim::RMSprop m(params(), o); },
       "RMSprop: alpha must be in [0, 1], got 1.5"},
      {"Adadelta rho", [] { optim::Adadelta::Options o; o.rho = kNaN; optim::Adadelta m(params(), o); },
       "Adadelta: rho must be in [0, 1], got nan"},
      {"Adagrad lr_decay", [] { optim::Adagrad::Options o; o.lr_decay = -1; optim::Adagrad m(params(), o); },
       "Adagrad: lr_decay must be >= 0, got -1"},
      {"set_lr", [] { optim::SGD(params(), optim::SGD::Options{}).set_lr(-kInfinity); },
       "SGD: lr must be >= 0 and finite, got -inf"},
      {"make_optimizer", [] { optim::make_optimizer("lbfgs", params()); },
       "make_optimizer: unknown optimizer 'lbfgs'; valid names: sgd, momentum, nag, nesterov, adagrad, adadelta, "
       "rmsprop, adam"},
  });
}

TEST_CASE("validation: Model, fit options and callbacks name the function, the option and the value") {
  auto compiled = [] {
    nn::Model m;
    m.add(nn::make_dense(2, 3, "softmax"));
    m.compile("sgd", "sparse_categorical_crossentropy", {"accuracy"});
    return m;
  };
  const Tensor x = zeros({4, 2}), y = zeros({4});
  auto fit = [&](const std::function<void(nn::FitOptions&)>& set) {
    return [=] {
      nn::Model m = compiled();
      nn::FitOptions o;
      o.verbose = 0;
      set(o);
      m.fit(x, y, o);
    };
  };
  run_table({
      {"compile lr NaN", [] { nn::Model m; m.add(nn::make_dense(2, 1)); m.compile("sgd", "mse", {}, kNaN); },
       "SGD: lr must be >= 0 and finite, got nan"},
      {"compile loss", [] { nn::Model m; m.add(nn::make_dense(2, 1)); m.compile("sgd", "hinge"); },
       "Model::compile: unknown loss 'hinge'; valid names: mean_squared_error, mse, mean_absolute_error, mae, "
       "binary_crossentropy, categorical_crossentropy, sparse_categorical_crossentropy"},
      {"fit batch_size 0", fit([](nn::FitOptions& o) { o.batch_size = 0; }),
       "Model::fit: batch_size must be >= 1, got 0"},
      {"fit validation_split 1", fit([](nn::FitOptions& o) { o.validation_split = 1; }),
       "Model::fit: validation_split must be in [0, 1), got 1.000000"},
      {"fit validation_split NaN", fit([](nn::FitOptions& o) { o.validation_split = kNaN; }),
       "Model::fit: validation_split must be in [0, 1), got nan"},
      {"fit validation_data rows", fit([](nn::FitOptions& o) { o.validation_data = {{zeros({3, 2}), zeros({2})}}; }),
       "Dataset: x has 3 rows (shape [3,2]) but y has 2 (shape [2])"},
      {"fit rows differ", [&] { compiled().fit(x, zeros({3})); },
       "Dataset: x has 4 rows (shape [4,2]) but y has 3 (shape [3])"},
      {"fit x width", [&] { nn::Model m = compiled(); m.fit(zeros({4, 5}), y); },
       "Linear(in=2, out=3): input has 5 features per row ([4,5]), expected 2"},
      {"fit label out of range", [&] { nn::Model m = compiled(); m.fit(x, tensor({0.0, 1, 2, 3})); },
       "cross_entropy: label 3 at dataset row 3 is out of range for C = 3 classes"},
      {"fit no rows", [&] { compiled().fit(zeros({0, 2}), zeros({0})); }, "Model::fit: no training rows (x is [0,2])"},
      {"evaluate batch_size 0", [&] { compiled().evaluate(x, y, 0); },
       "Model::evaluate: batch_size must be >= 1, got 0"},
      {"predict batch_size 0", [&] { compiled().predict(x, 0); }, "Model::predict: batch_size must be >= 1, got 0"},
      {"predict 0-d", [&] { compiled().predict(tensor(1.0)); },
       "Model::predict: x must have a batch axis, got a 0-d tensor"},
      {"EarlyStopping min_delta", [] { nn::EarlyStopping::Options o; o.min_delta = -1; nn::EarlyStopping e(o); },
       "EarlyStopping: min_delta must be >= 0, got -1.000000"},
      {"EarlyStopping patience", [] { nn::EarlyStopping::Options o; o.patience = -1; nn::EarlyStopping e(o); },
       "EarlyStopping: patience must be >= 0, got -1"},
      {"ReduceLROnPlateau patience",
       [] { nn::ReduceLROnPlateau::Options o; o.patience = -3; nn::ReduceLROnPlateau r(o); },
       "ReduceLROnPlateau: patience must be >= 0, got -3"},
      {"EarlyStopping mode", [] { nn::EarlyStopping::Options o; o.mode = "up"; nn::EarlyStopping e(o); },
       "EarlyStopping: mode must be auto, min or max, got 'up'"},
      {"EarlyStopping monitor", fit([](nn::FitOptions& o) {
         nn::EarlyStopping::Options e;
         e.monitor = "val_f1";
         o.callbacks = {std::make_shared<nn::EarlyStopping>(e)};
       }),
       "EarlyStopping: monitored quantity 'val_f1' is not logged (logged: accuracy, epoch, loss, lr)"},
      {"ReduceLROnPlateau factor", [] { nn::ReduceLROnPlateau::Options o; o.factor = 1; nn::ReduceLROnPlateau r(o); },
       "ReduceLROnPlateau: factor must be in (0, 1), got 1.000000"},
      {"ReduceLROnPlateau min_lr", [] { nn::ReduceLROnPlateau::Options o; o.min_lr = -1; nn::ReduceLROnPlateau r(o); },
       "ReduceLROnPlateau: min_lr must be a finite number >= 0, got -1.000000"},
      {"ReduceLROnPlateau min_delta",
       [] { nn::ReduceLROnPlateau::Options o; o.min_delta = kNaN; nn::ReduceLROnPlateau r(o); },
       "ReduceLROnPlateau: min_delta must be a finite number >= 0, got nan"},
      {"step_decay drop", [] { nn::step_decay(0, 10); },
       "step_decay: need 0 < drop <= 1 and every >= 1, got drop 0.000000, every 10"},
      {"step_decay every", [] { nn::step_decay(0.5, 0); },
       "step_decay: need 0 < drop <= 1 and every >= 1, got drop 0.500000, every 0"},
      {"ModelCheckpoint mode", [] { nn::ModelCheckpoint m("m.safetensors", "val_loss", true, "up"); },
       "ModelCheckpoint: mode must be auto, min or max, got 'up'"},
      {"LearningRateScheduler empty", [] { nn::LearningRateScheduler s(nullptr); },
       "LearningRateScheduler: empty schedule"},
      {"scheduler negative lr", fit([](nn::FitOptions& o) {
         o.callbacks = {std::make_shared<nn::LearningRateScheduler>([](std::size_t, double) { return -1.0; })};
       }),
       "SGD: lr must be >= 0 and finite, got -1"},
  });
}

TEST_CASE("validation: data helpers name the function, the argument and the value") {
  run_table({
      {"Dataset rows", [] { nn::Dataset m(zeros({3, 2}), zeros({4})); },
       "Dataset: x has 3 rows (shape [3,2]) but y has 4 (shape [4])"},
      {"Dataset 0-d", [] { nn::Dataset m(tensor(1.0), zeros({1})); },
       "Dataset: x and y need a sample axis (first axis), got shapes [] and [1]"},
      {"split fraction", [] { nn::Dataset(zeros({4, 2}), zeros({4})).split(1.5); },
       "Dataset::split: validation fraction must be in (0, 1), got 1.5"},
      {"split too few", [] { nn::Dataset(zeros({1, 2}), zeros({1})).split(0.5); },
       "Dataset::split: 1 rows are too few to split with validation fraction 0.5 (one part would be empty)"},
      {"slice range", [] { nn::Dataset(zeros({4, 2}), zeros({4})).slice(3, 9); },
       "Dataset::slice: [3, 9) is not a range within 4 rows"},
      {"batches 0", [] { nn::batches(10, 0); }, "batches: batch_size must be positive"},
      {"take_rows index", [] { nn::take_rows(zeros({2, 2}), {2}); },
       "take_rows: index 2 (position 0) is out of range for 2 rows"},
      {"StandardScaler not fitted", [] { nn::StandardScaler().transform(zeros({2, 2})); },
       "StandardScaler::transform: not fitted; call fit (or fit_transform) on the training data first"},
      {"StandardScaler no rows", [] { nn::StandardScaler().fit(zeros({0, 2})); }, "StandardScaler::fit: x has no rows"},
      {"StandardScaler columns", [] { nn::StandardScaler s; s.fit(zeros({2, 2})); s.transform(zeros({2, 3})); },
       "StandardScaler::transform: fitted on 2 columns, got 3 (shape [2,3])"},
      {"MinMaxScaler range", [] { nn::MinMaxScaler m(1, 0); },
       "MinMaxScaler: feature range must have lo < hi, got [1, 0]"},
      {"MinMaxScaler NaN", [] { nn::MinMaxScaler m(kNaN, 1); },
       "MinMaxScaler: feature range must have lo < hi, got [nan, 1]"},
  });
}
