#include "optim/optimizer.hpp"

#include <cmath>
#include <stdexcept>

namespace chainrule::optim {

Optimizer::Optimizer(std::vector<Tensor> params, double lr, const char* name)
    : params_(std::move(params)), lr_(lr), name_(name) {
  if (params_.empty()) throw std::invalid_argument(std::string(name) + ": given no parameters to optimize");
  for (std::size_t i = 0; i < params_.size(); ++i)
    if (!params_[i].defined() || !params_[i].is_leaf() || !params_[i].requires_grad())
      throw std::invalid_argument(std::string(name) + ": parameter #" + std::to_string(i) +
                                  " is not a leaf tensor with requires_grad");
  set_lr(lr);
}

void Optimizer::set_lr(double lr) {
  if (!(lr >= 0) || !std::isfinite(lr))
    throw std::invalid_argument(std::string(name_) + ": learning rate must be a finite number >= 0, got " +
                                std::to_string(lr));
  lr_ = lr;
}

void Optimizer::zero_grad() {
  for (auto& p : params_) p.zero_grad();
}

}  // namespace chainrule::optim
