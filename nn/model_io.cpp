// Model::save / Model::load: one safetensors file holding the weights, buffers and optimizer state, with the
// architecture and compile settings as JSON in its metadata.
#include <map>
#include <variant>

#include <nlohmann/json.hpp>

#include "model.hpp"
#include "registry.hpp"
#include "serialize.hpp"
#include "../optim/optim.hpp"
#include "../util/names.hpp"

namespace chainrule::nn {

using json = nlohmann::json;

namespace {

constexpr int kFormatVersion = 1;

json to_json(const Config& c) {
  json j = json::object();
  for (const auto& [k, v] : c.items()) std::visit([&, &k = k](const auto& x) { j[k] = x; }, v);
  return j;
}

// The scalar members of a JSON object (nested arrays and objects are not settings).
Config from_json(const json& j) {
  Config c;
  for (const auto& [k, v] : j.items()) {
    if (v.is_boolean()) c.set(k, v.get<bool>());
    else if (v.is_number_unsigned()) c.set(k, v.get<std::uint64_t>());
    else if (v.is_number()) c.set(k, v.get<double>());
    else if (v.is_string()) c.set(k, v.get<std::string>());
  }
  return c;
}

// {"type": name(), ...config()}; a Sequential lists its layers.
json layer_config(const Module& m) {
  json j = {{"type", m.name()}};
  j.update(to_json(m.config()));
  if (m.name() == "Sequential") {
    j["layers"] = json::array();
    for (const auto& [n, c] : m.children()) j["layers"].push_back(layer_config(*c));
  } else if (!is_registered_layer(m.name())) {
    throw std::invalid_argument("Model::save: layer type '" + m.name() + "' is not registered (nn::register_layer<" +
                                m.name() + ">(\"" + m.name() + "\") lets Model::load rebuild it)");
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
  if (t == "Sequential") {
    if (!j.contains("layers") || !j["layers"].is_array()) throw fail("missing 'layers'");
    if (depth == kMaxDepth)
      throw std::runtime_error(file + ": architecture: Sequentials nested more than " + std::to_string(kMaxDepth) +
                               " deep");
    auto s = std::make_shared<Sequential>();
    for (const auto& c : j["layers"]) s->add(make_layer(c, dt, file, budget, depth + 1));
    return s;
  }
  const Config c = from_json(j);
  std::shared_ptr<Module> m;
  try {
    spend(layer_size(t, c));  // before allocating, when the layer's row can tell
    m = layer_from_config(t, c, dt);
  } catch (const std::invalid_argument& e) {
    throw fail(e.what());
  }
  if (!layer_size(t, c)) {  // a layer that could not tell: counted once built
    std::uint64_t values = 0;
    for (const auto& [n, p] : m->named_parameters()) values += p.numel();
    for (const auto& [n, b] : m->named_buffers()) values += b.numel();
    spend(values);
  }
  return m;
}

// The optimizer's type and every option, so that load() rebuilds it exactly (the learning rate as it is now).
json optimizer_config(const optim::Optimizer& o) {
  json j = {{"type", o.name()}};
  j.update(to_json(o.config()));
  return j;
}

std::unique_ptr<optim::Optimizer> make_optimizer(const json& j, std::vector<Tensor> params) {
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
    throw std::invalid_argument("optimizer_config without a type");
  const Config c = from_json(j);
  auto opt = optim::optimizer_from_config(j["type"].get<std::string>(), std::move(params), c);
  const Config options = opt->config();
  for (const auto& [key, v] : options.items())  // a file states every option: none is left to a default
    if (!c.has(key)) throw std::invalid_argument("optimizer_config: missing '" + key + "'");
  return opt;
}

Penalty penalty_from(const json& p) {
  Penalty pen;
  const int kind = p.at("kind").get<int>();
  if (kind < 0 || kind > 2) throw std::invalid_argument("penalty kind " + std::to_string(kind) + " is not 0, 1 or 2");
  pen.kind = static_cast<Penalty::Kind>(kind);
  pen.alpha = p.at("alpha").get<double>(), pen.r = p.at("r").get<double>();
  pen.include_bias = p.at("include_bias").get<bool>();
  return pen;
}

// The model description in a file's metadata, its format checked; dt ← the weights' dtype.
json read_description(const Metadata& md, const std::string& path, Dtype& dt) {
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
  dt = dts == "float64" ? kFloat64 : kFloat32;
  if (!meta.contains("architecture")) throw fail("no architecture");
  return meta;
}

// The architecture the description states, as a Sequential. The layers may not ask for more values than the file
// holds, plus some slack so that a file missing a tensor is reported as exactly that (load_weights) rather than as
// too small: a hostile description then allocates 64 MiB at most.
std::shared_ptr<Sequential> build_architecture(const json& architecture, Dtype dt, const std::string& path,
                                               const NamedTensors& tensors) {
  auto fail = [&](const std::string& why) { return std::runtime_error(path + ": " + why); };
  std::uint64_t budget = std::uint64_t{1} << 24;
  for (const auto& [n, t] : tensors) budget += t.numel();
  std::shared_ptr<Sequential> seq;
  try {  // the layers' own checks (an unknown activation, a Dropout p of 7) become errors about this file
    seq = std::dynamic_pointer_cast<Sequential>(make_layer(architecture, dt, path, budget));
  } catch (const std::invalid_argument& e) {
    throw fail(std::string("architecture: ") + e.what());
  }
  if (!seq) throw fail("architecture is not a Sequential");
  return seq;
}

// Loads seq's parameters and buffers from the file's tensors: every one must be there, with its shape and dtype.
// Returns the optimizer's state (the "optimizer." tensors, prefix removed); any other tensor left over is an error.
optim::NamedTensors load_weights(Sequential& seq, const NamedTensors& tensors, const std::string& path) {
  auto fail = [&](const std::string& why) { return std::runtime_error(path + ": " + why); };
  std::map<std::string, Tensor> by_name;
  for (auto& [n, t] : tensors) by_name.emplace(n, t);
  NamedTensors weights;
  for (auto& [n, t] : seq.state_dict()) {
    auto f = by_name.find(n);
    if (f == by_name.end()) throw fail("tensor '" + n + "' is missing");
    if (f->second.dtype() != t.dtype() || f->second.shape() != t.shape())
      throw fail("tensor '" + n + "' is " + dtype_name(f->second.dtype()) + " " + shape_str(f->second.shape()) +
                 ", the architecture needs " + dtype_name(t.dtype()) + " " + shape_str(t.shape()));
    weights.emplace_back(n, f->second);
    by_name.erase(f);
  }
  seq.load_state_dict(weights);
  optim::NamedTensors opt_state;
  for (auto& [n, t] : by_name) {
    if (n.rfind("optimizer.", 0) != 0) throw fail("unexpected tensor '" + n + "' (not in the architecture)");
    opt_state.emplace_back(n.substr(10), t);
  }
  return opt_state;
}

}  // namespace

void Model::save(const std::string& path) const {
  if (state_spread_)
    throw std::logic_error("Model::save: " + path + ": the optimizer's state is spread over the ranks of a fit with "
                           "a sharded optimizer (FitOptions::data_parallel) until the epoch ends; save at an epoch's "
                           "end (ModelCheckpoint) or after fit");
  json meta = {{"format", "chainrule.model"}, {"format_version", kFormatVersion}};
  meta["architecture"] = layer_config(*net_);
  const auto params = net_->parameters();
  meta["dtype"] = dtype_name(params.empty() ? kFloat32 : params[0].dtype());
  NamedTensors tensors = net_->state_dict();
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

Model Model::load(const std::string& path, const LoadOptions& options) {
  Metadata md;
  NamedTensors tensors = load_safetensors(path, &md);
  check_finite(path, tensors, options);  // NaN weights or optimizer state cannot train
  auto fail = [&](const std::string& why) { return std::runtime_error(path + ": " + why); };
  Dtype dt = kFloat32;
  json meta = read_description(md, path, dt);
  const std::shared_ptr<Sequential> seq = build_architecture(meta["architecture"], dt, path, tensors);
  Model m(seq);
  const optim::NamedTensors opt_state = load_weights(*seq, tensors, path);
  if (meta.contains("compile")) {
    const json& c = meta["compile"];
    try {
      std::vector<Metric> metrics;
      for (const auto& name : c.at("metrics").get<std::vector<std::string>>()) metrics.emplace_back(name);
      const bool from_logits = c.contains("from_logits") && c["from_logits"].get<bool>();
      m.compile(make_optimizer(c.at("optimizer_config"), m.parameters()),
                from_logits ? binary_crossentropy(true) : Loss(c.at("loss").get<std::string>()), metrics);
      m.optimizer_name_ = c.at("optimizer").get<std::string>();
      if (c.contains("penalty")) m.set_penalty(penalty_from(c["penalty"]));
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
