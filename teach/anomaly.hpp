#pragma once
// Anomaly mode, like torch.autograd.detect_anomaly: while a guard lives, every op's forward result and every
// gradient contribution of backward is checked for NaN and ±inf, and the first op that makes one throws
// std::runtime_error naming the op, its label, its inputs' shapes and value ranges, and the pass.
//
//   { chainrule::AnomalyMode guard;  loss = f(x);  loss.backward(); }   // throws at the culprit op
//
// Off by default; when off it costs one branch per op. Per thread; guards nest.
namespace chainrule {

/// RAII: while it lives, the first op (forward or backward) that makes a NaN or inf throws, naming the op.
class AnomalyMode {
 public:
  AnomalyMode();
  ~AnomalyMode();
  AnomalyMode(const AnomalyMode&) = delete;
  AnomalyMode& operator=(const AnomalyMode&) = delete;
};
/// libtorch's name for the same guard.
using DetectAnomalyGuard = AnomalyMode;

/// True while an AnomalyMode guard lives on this thread.
bool anomaly_mode_enabled();

}  // namespace chainrule
