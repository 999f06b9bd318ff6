// Model::save / Model::load: one safetensors file holding the weights, buffers and optimizer state, with the
// architecture and compile settings as JSON in its metadata.
#include <map>

#include <nlohmann/json.hpp>

#include "nn/activations.hpp"
#include "nn/model.hpp"
#include "nn/serialize.hpp"
#include "optim/optim.hpp"
#include "util/names.hpp"

namespace chainrule::nn {

using json = nlohmann::json;

namespace {

constexpr int kFormatVersion = 1;

json layer_config(const Module& m) {
  json j = {{"type", m.name()}};
  if (auto d = dynamic_cast<const Dense*>(&m)) {
    j["in"] = d->in_features(), j["out"] = d->out_features(), j["bias"] = d->bias().defined();
    j["activation"] = d->activation();
  } else if (auto l = dynamic_cast<const Linear*>(&m)) {
    j["in"] = l->in_features(), j["out"] = l->out_features(), j["bias"] = l->bias().defined();
  } else if (auto b = dynamic_cast<const BatchNorm1d*>(&m)) {
    j["features"] = b->features(), j["eps"] = b->options().eps, j["momentum"] = b->options().momentum;
    j["affine"] = b->options().affine;
  } else if (auto p = dynamic_cast<const Dropout*>(&m)) {
    j["p"] = p->p();
  } else if (auto a = dynamic_cast<const LeakyReLU*>(&m)) {
    j["slope"] = a->slope();
  } else if (auto a = dynamic_cast<const PiecewiseLinear*>(&m)) {
    j["x_min"] = a->x_min(), j["x_max"] = a->x_max();
  } else if (auto a = dynamic_cast<const LinearActivation*>(&m)) {
    j["a"] = a->a(), j["b"] = a->b();
  } else if (auto s = dynamic_cast<const Sequential*>(&m)) {
    j["layers"] = json::array();
    for (const auto& [n, c] : s->children()) j["layers"].push_back(layer_config(*c));
  } else if (!dynamic_cast<const Sigmoid*>(&m) && !dynamic_cast<const Tanh*>(&m) && !dynamic_cast<const ReLU*>(&m) &&
             !dynamic_cast<const Softmax*>(&m) && !dynamic_cast<const LogSoftmax*>(&m) &&
             !dynamic_cast<const Step*>(&m) && !dynamic_cast<const Gaussian*>(&m)) {
    throw std::invalid_argument("Model::save: cannot describe layer type '" + m.name() +
                                "' (save its weights with save_safetensors(path, net.named_parameters()))");
  }
  return j;
}

// `budget`: how many values the file holds (plus slack). Every parameter must come from the file, so a description
// asking for more (a hostile "in": 1073741824) is refused before its weights are allocated. `depth`: Sequentials
// nest at most kMaxDepth deep, so a hostile nesting cannot exhaust the stack.
constexpr int kMaxDepth = 64;
std::shared_ptr<Module> make_layer(const json& j, Dtype dt, const std::string& file, std::uint64_t& budget,
                                   int depth = 0) {
  auto fail = [&](const std::string& why) {
    return std::runtime_error(file + ": architecture: " + why + " in " + j.dump());
  };
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) throw fail("layer without a type");
  auto spend = [&](std::uint64_t values) {
    if (values > budget)
      throw std::runtime_error(file + ": architecture: needs more values than the file's tensors hold (layer " +
                               j.dump() + ")");
    budget -= values;
  };
  const std::string t = j["type"];
  auto num = [&](const char* k) {
    if (!j.contains(k) || !j[k].is_number()) throw fail(std::string("missing number '") + k + "'");
    return j[k].get<double>();
  };
  auto count = [&](const char* k) {
    if (!j.contains(k) || !j[k].is_number_unsigned() || j[k].get<std::uint64_t>() == 0 ||
        j[k].get<std::uint64_t>() > (1u << 30))
      throw fail(std::string("'") + k + "' must be a positive integer");
    return static_cast<std::size_t>(j[k].get<std::uint64_t>());
  };
  auto flag = [&](const char* k) {
    if (!j.contains(k) || !j[k].is_boolean()) throw fail(std::string("missing boolean '") + k + "'");
    return j[k].get<bool>();
  };
  Linear::Options lo;
  lo.dtype = dt;
  if (t == "Dense" || t == "Linear") {
    lo.bias = flag("bias");
    spend(std::uint64_t{count("in")} * count("out") + (lo.bias ? count("out") : 0));  // each ≤ 2^30: no overflow
    if (t == "Linear") return std::make_shared<Linear>(count("in"), count("out"), lo);
    if (!j.contains("activation") || !j["activation"].is_string()) throw fail("missing 'activation'");
    return std::make_shared<Dense>(count("in"), count("out"), j["activation"].get<std::string>(), lo);
  }
  if (t == "BatchNorm1d") {
    BatchNorm1d::Options bo;
    bo.dtype = dt, bo.eps = num("eps"), bo.momentum = num("momentum"), bo.affine = flag("affine");
    spend(count("features"));  // at least its running mean
    return std::make_shared<BatchNorm1d>(count("features"), bo);
  }
  if (t == "Dropout") return std::make_shared<Dropout>(num("p"));
  if (t == "LeakyReLU") return std::make_shared<LeakyReLU>(num("slope"));
  if (t == "PiecewiseLinear") return std::make_shared<PiecewiseLinear>(num("x_min"), num("x_max"));
  if (t == "LinearActivation") return std::make_shared<LinearActivation>(num("a"), num("b"));
  if (t == "Sequential") {
    if (!j.contains("layers") || !j["layers"].is_array()) throw fail("missing 'layers'");
    if (depth == kMaxDepth)
      throw std::runtime_error(file + ": architecture: Sequentials nested more than " + std::to_string(kMaxDepth) +
                               " deep");
    auto s = std::make_shared<Sequential>();
    for (const auto& c : j["layers"]) s->add(make_layer(c, dt, file, budget, depth + 1));
    return s;
  }
  for (const char* name : {"Sigmoid", "Tanh", "ReLU", "Softmax", "LogSoftmax", "Step", "Gaussian"})
    if (t == name) {
      std::string key = t == "LogSoftmax" ? "log_softmax" : lower(t);
      return make_activation(key);
    }
  throw fail("unknown layer type '" + t + "'");
}

// The optimizer's type and every option, so that load() rebuilds it exactly (the learning rate as it is now).
json optimizer_config(const optim::Optimizer& o) {
  json j = {{"type", o.name()}, {"lr", o.lr()}};
  if (auto p = dynamic_cast<const optim::SGD*>(&o)) {
    const auto x = p->options();
    j.update({{"momentum", x.momentum}, {"dampening", x.dampening}, {"nesterov", x.nesterov},
              {"weight_decay", x.weight_decay}});
  } else if (auto p = dynamic_cast<const optim::Adagrad*>(&o)) {
    const auto x = p->options();
    j.update({{"lr_decay", x.lr_decay}, {"initial_accumulator_value", x.initial_accumulator_value}, {"eps", x.eps},
              {"weight_decay", x.weight_decay}});
  } else if (auto p = dynamic_cast<const optim::Adadelta*>(&o)) {
    const auto x = p->options();
    j.update({{"rho", x.rho}, {"eps", x.eps}, {"weight_decay", x.weight_decay}});
  } else if (auto p = dynamic_cast<const optim::RMSprop*>(&o)) {
    const auto x = p->options();
    j.update({{"alpha", x.alpha}, {"eps", x.eps}, {"momentum", x.momentum}, {"centered", x.centered},
              {"weight_decay", x.weight_decay}});
  } else if (auto p = dynamic_cast<const optim::Adam*>(&o)) {
    const auto x = p->options();
    j.update({{"beta1", x.beta1}, {"beta2", x.beta2}, {"eps", x.eps}, {"weight_decay", x.weight_decay},
              {"amsgrad", x.amsgrad}});
  } else {
    throw std::invalid_argument(std::string("Model::save: cannot describe optimizer type '") + o.name() + "'");
  }
  return j;
}

std::unique_ptr<optim::Optimizer> make_optimizer(const json& j, std::vector<Tensor> params) {
  const std::string t = j.at("type").get<std::string>();
  auto set = [&](auto& o) {  // every field present in j (json::at throws on a missing one)
    o.lr = j.at("lr").get<double>();
    return o;
  };
  if (t == "SGD") {
    optim::SGD::Options o;
    o.momentum = j.at("momentum"), o.dampening = j.at("dampening"), o.nesterov = j.at("nesterov");
    o.weight_decay = j.at("weight_decay");
    return std::make_unique<optim::SGD>(std::move(params), set(o));
  }
  if (t == "Adagrad") {
    optim::Adagrad::Options o;
    o.lr_decay = j.at("lr_decay"), o.initial_accumulator_value = j.at("initial_accumulator_value");
    o.eps = j.at("eps"), o.weight_decay = j.at("weight_decay");
    return std::make_unique<optim::Adagrad>(std::move(params), set(o));
  }
  if (t == "Adadelta") {
    optim::Adadelta::Options o;
    o.rho = j.at("rho"), o.eps = j.at("eps"), o.weight_decay = j.at("weight_decay");
    return std::make_unique<optim::Adadelta>(std::move(params), set(o));
  }
  if (t == "RMSprop") {
    optim::RMSprop::Options o;
    o.alpha = j.at("alpha"), o.eps = j.at("eps"), o.momentum = j.at("momentum"), o.centered = j.at("centered");
    o.weight_decay = j.at("weight_decay");
    return std::make_unique<optim::RMSprop>(std::move(params), set(o));
  }
  if (t == "Adam") {
    optim::Adam::Options o;
    o.beta1 = j.at("beta1"), o.beta2 = j.at("beta2"), o.eps = j.at("eps"), o.weight_decay = j.at("weight_decay");
    o.amsgrad = j.at("amsgrad");
    return std::make_unique<optim::Adam>(std::move(params), set(o));
  }
  throw std::invalid_argument("unknown optimizer type '" + t + "'");
}

}  // namespace

void Model::save(const std::string& path) const {
  json meta = {{"format", "chainrule.model"}, {"format_version", kFormatVersion}};
  meta["architecture"] = layer_config(*net_);
  const auto params = net_->parameters();
  meta["dtype"] = dtype_name(params.empty() ? kFloat32 : params[0].dtype());
  NamedTensors tensors = net_->named_parameters();
  for (auto& b : net_->named_buffers()) tensors.push_back(b);
  if (optimizer_) {
    std::vector<std::string> metrics;
    for (const auto& m : metrics_) metrics.push_back(m.name());
    meta["compile"] = {{"optimizer", optimizer_name_}, {"optimizer_config", optimizer_config(*optimizer_)},
                       {"loss", loss_.name()}, {"metrics", metrics}};
    if (loss_.binary_from_logits()) meta["compile"]["from_logits"] = true;
    if (penalty_)
      meta["compile"]["penalty"] = {{"kind", static_cast<int>(penalty_->kind)}, {"alpha", penalty_->alpha},
                                    {"r", penalty_->r}, {"include_bias", penalty_->include_bias}};
    for (auto& [n, t] : optimizer_->state()) tensors.emplace_back("optimizer." + n, t);
  }
  save_safetensors(path, tensors, {{"chainrule", meta.dump()}});
}

Model Model::load(const std::string& path) {
  Metadata md;
  NamedTensors tensors = load_safetensors(path, &md);
  auto fail = [&](const std::string& why) { return std::runtime_error(path + ": " + why); };
  auto it = md.find("chainrule");
  if (it == md.end()) throw fail("no chainrule model description in the metadata (a plain safetensors file?)");
  json meta = json::parse(it->second, nullptr, false);
  if (meta.is_discarded() || !meta.is_object()) throw fail("model description is not valid JSON");
  if (!meta.contains("format") || meta["format"] != "chainrule.model") throw fail("not a chainrule model file");
  const json version = meta.contains("format_version") ? meta["format_version"] : json();
  if (!version.is_number_integer() || version.get<std::int64_t>() < 1 || version.get<std::int64_t>() > kFormatVersion)
    throw fail("unsupported format_version " + meta.value("format_version", json()).dump() + " (this build reads up to " +
               std::to_string(kFormatVersion) + ")");
  const json dtj = meta.contains("dtype") ? meta["dtype"] : json();
  if (dtj != "float32" && dtj != "float64") throw fail("unknown dtype " + dtj.dump());
  const std::string dts = dtj.get<std::string>();
  const Dtype dt = dts == "float64" ? kFloat64 : kFloat32;
  if (!meta.contains("architecture")) throw fail("no architecture");
  // The layers may not ask for more values than the file holds, plus some slack so that a file missing a tensor is
  // reported as exactly that (below) rather than as too small: a hostile description then allocates 64 MiB at most.
  std::uint64_t budget = std::uint64_t{1} << 24;
  for (const auto& [n, t] : tensors) budget += t.numel();
  std::shared_ptr<Sequential> seq;
  try {  // the layers' own checks (an unknown activation, a Dropout p of 7) become errors about this file
    seq = std::dynamic_pointer_cast<Sequential>(make_layer(meta["architecture"], dt, path, budget));
  } catch (const std::invalid_argument& e) {
    throw fail(std::string("architecture: ") + e.what());
  }
  if (!seq) throw fail("architecture is not a Sequential");
  Model m(seq);

  // Every parameter and buffer must come from the file, with its shape and dtype; nothing may be left over.
  std::map<std::string, Tensor> by_name;
  for (auto& [n, t] : tensors) by_name.emplace(n, t);
  NamedTensors expected = seq->named_parameters();
  for (auto& b : seq->named_buffers()) expected.push_back(b);
  for (auto& [n, t] : expected) {
    auto f = by_name.find(n);
    if (f == by_name.end()) throw fail("tensor '" + n + "' is missing");
    if (f->second.dtype() != t.dtype() || f->second.shape() != t.shape())
      throw fail("tensor '" + n + "' is " + dtype_name(f->second.dtype()) + " " + shape_str(f->second.shape()) +
                 ", the architecture needs " + dtype_name(t.dtype()) + " " + shape_str(t.shape()));
    detail::dispatch(dt, [&, &t = t](auto tag) {  // a structured binding is captured by name (C++17)
      using T = decltype(tag);
      Tensor dst = t;
      dst.data<T>() = f->second.data<T>();
    });
    by_name.erase(f);
  }
  optim::NamedTensors opt_state;
  for (auto& [n, t] : by_name) {
    if (n.rfind("optimizer.", 0) != 0) throw fail("unexpected tensor '" + n + "' (not in the architecture)");
    opt_state.emplace_back(n.substr(10), t);
  }
  if (meta.contains("compile")) {
    const json& c = meta["compile"];
    try {
      std::vector<Metric> metrics;
      for (const auto& name : c.at("metrics").get<std::vector<std::string>>()) metrics.emplace_back(name);
      const bool from_logits = c.contains("from_logits") && c["from_logits"].get<bool>();
      m.compile(make_optimizer(c.at("optimizer_config"), m.parameters()),
                from_logits ? binary_crossentropy(true) : Loss(c.at("loss").get<std::string>()), metrics);
      m.optimizer_name_ = c.at("optimizer").get<std::string>();
      if (c.contains("penalty")) {
        const json& p = c["penalty"];
        Penalty pen;
        const int kind = p.at("kind").get<int>();
        if (kind < 0 || kind > 2)
          throw std::invalid_argument("penalty kind " + std::to_string(kind) + " is not 0, 1 or 2");
        pen.kind = static_cast<Penalty::Kind>(kind);
        pen.alpha = p.at("alpha").get<double>(), pen.r = p.at("r").get<double>();
        pen.include_bias = p.at("include_bias").get<bool>();
        m.set_penalty(pen);
      }
    } catch (const std::exception& e) {
      throw fail(std::string("bad compile settings: ") + e.what());
    }
    try {
      m.optimizer().load_state(opt_state);
    } catch (const std::exception& e) {
      throw fail(std::string("optimizer state: ") + e.what());
    }
  } else if (!opt_state.empty()) {
    throw fail("optimizer state without compile settings");
  }
  return m;
}

}  // namespace chainrule::nn
