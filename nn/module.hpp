#pragma once
// Module: the base of every layer and model. It owns ordered, named parameters, buffers and child modules, so
// parameters(), named_parameters() ("0.weight"), zero_grad(), train()/eval() and printing recurse for free.
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../autograd/autograd.hpp"
#include "../util/config.hpp"

namespace chainrule::nn {

/// Tensors by dotted name ("0.weight"), in order.
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

/// Base of every layer and model: named parameters, buffers and child modules, train/eval mode and hooks.
class Module {
 public:
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  virtual ~Module();

  /// The layer's computation; x holds one sample per row (first axis = batch).
  virtual Tensor forward(const Tensor& x) = 0;
  /// forward(x), with the module's hooks around it (calling forward() directly skips them, as in torch).
  Tensor operator()(const Tensor& x) { return hooks_ ? call_with_hooks(x) : forward(x); }
  /// Type name shown by printing and summaries ("Linear").
  virtual std::string name() const = 0;
  /// Settings shown in printing ("in=784, out=128, bias=true").
  virtual std::string extra_repr() const { return ""; }

  /// The settings that rebuild this layer (Keras' get_config): a static from_config(config, dtype) reads them
  /// back, found by name() in the layer registry (nn/registry.hpp). Children and weights are not part of it.
  virtual Config config() const { return {}; }
  /// "softmax" or "sigmoid" for a layer that ends in that function (a Softmax, a Dense with that activation), so
  /// that a cross-entropy loss can be taken stably from pre_activation(x), the logits before it; "" otherwise.
  virtual std::string output_activation() const { return ""; }
  /// The layer's output before its final softmax/sigmoid (see output_activation); forward(x) for other layers.
  virtual Tensor pre_activation(const Tensor& x) { return forward(x); }

  /// Trainable tensors of this module and its children, in registration order.
  std::vector<Tensor> parameters() const;
  /// Same, with dotted names: "0.weight", "0.bias", "2.weight", ...
  NamedTensors named_parameters() const;
  /// Non-trainable state (BatchNorm's running statistics), dotted names.
  NamedTensors named_buffers() const;
  /// Parameters and buffers by dotted name ("0.weight", "1.running_mean"), the module's own tensors (no copy):
  /// what load_state_dict reads, and what save_safetensors(path, m.state_dict()) writes (torch's state_dict).
  NamedTensors state_dict() const;
  /// Copies each entry into the parameter or buffer of that name (Tensor::copy_, dtype converted). Checks every
  /// entry before copying any: a shape that differs ("load_state_dict: '0.weight' is [3,8] in the dict, [2,8] in
  /// the module"), a name the module does not have, or (strict) a parameter or buffer the dict lacks is an
  /// std::invalid_argument naming the key, and the module is untouched. Not strict: missing names keep their values.
  void load_state_dict(const NamedTensors& dict, bool strict = true);
  /// Number of trainable scalars.
  std::size_t parameter_count() const;
  /// Clears the gradients of all parameters (see Tensor::zero_grad).
  void zero_grad(bool set_to_none = false);
  /// Training mode (Dropout active, BatchNorm on batch statistics) or evaluation mode; recurses.
  void train(bool on = true);
  /// Evaluation mode (train(false)): Dropout passes through, BatchNorm uses its running statistics.
  void eval() { train(false); }
  /// Whether the module is in training mode.
  bool is_training() const { return training_; }
  /// The child modules with their names, in registration order.
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const { return children_; }

  // ---- hooks (as torch.nn.Module's; each returns a handle whose remove() unregisters it) -----------------------
  /// fn(module, input, output) after each forward through operator(); a returned (defined) tensor replaces the
  /// output. fn returns Tensor or void.
  using ForwardHook = std::function<Tensor(Module&, const Tensor& input, const Tensor& output)>;
  /// fn(module, grad_input, grad_output), torch's register_full_backward_hook for one input and one output: called
  /// once backward has computed ∂L/∂input (grad_input), with ∂L/∂output (grad_output); a returned (defined) tensor
  /// replaces grad_input. When the input needs no gradient (the first layer), grad_input is undefined and fn runs
  /// as soon as grad_output is known. fn returns Tensor or void. Hooks of each kind run in registration order.
  using BackwardHook = std::function<Tensor(Module&, const Tensor& grad_input, const Tensor& grad_output)>;
  /// Calls fn(module, input, output) after each forward through operator(); returns a handle that removes it.
  template <class F> RemovableHandle register_forward_hook(F&& fn) {
    if constexpr (std::is_void_v<std::invoke_result_t<F&, Module&, const Tensor&, const Tensor&>>)
      return add_forward_hook([f = std::forward<F>(fn)](Module& m, const Tensor& a, const Tensor& b) mutable {
        f(m, a, b);
        return Tensor();
      });
    else
      return add_forward_hook(ForwardHook(std::forward<F>(fn)));
  }
  /// Calls fn(module, grad_input, grad_output) during backward (BackwardHook); returns a handle that removes it.
  template <class F> RemovableHandle register_full_backward_hook(F&& fn) {
    if constexpr (std::is_void_v<std::invoke_result_t<F&, Module&, const Tensor&, const Tensor&>>)
      return add_backward_hook([f = std::forward<F>(fn)](Module& m, const Tensor& a, const Tensor& b) mutable {
        f(m, a, b);
        return Tensor();
      });
    else
      return add_backward_hook(BackwardHook(std::forward<F>(fn)));
  }
  struct Hooks;  ///< the module's hook lists (nn/module.cpp)

 private:
  RemovableHandle add_forward_hook(ForwardHook fn);
  RemovableHandle add_backward_hook(BackwardHook fn);
  Tensor call_with_hooks(const Tensor& x);
  std::shared_ptr<Hooks> hooks_;  ///< null until a hook is registered: operator() is then forward()
  // ---- end of hooks ----

 public:

 protected:
  /// Registers a trainable tensor (it gets requires_grad) and returns it.
  Tensor register_parameter(std::string name, Tensor t);
  /// Adds a named non-trainable tensor (saved with the weights); returns it.
  Tensor register_buffer(std::string name, Tensor t);
  /// Adds a named child module; returns it.
  template <class M> std::shared_ptr<M> register_module(std::string name, std::shared_ptr<M> m) {
    children_.emplace_back(std::move(name), m);
    return m;
  }

 private:
  void collect(const std::string& prefix, NamedTensors& out, bool buffers) const;
  NamedTensors params_, buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

/// Multi-line, torch-like description: Sequential(\n  (0): Linear(in=2, out=2, bias=true)\n ...)
std::ostream& operator<<(std::ostream& os, const Module& m);

}  // namespace chainrule::nn
