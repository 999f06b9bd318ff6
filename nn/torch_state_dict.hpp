#pragma once
// Loading a state dict that PyTorch saved as safetensors (safetensors.torch.save_file(model.state_dict(), path))
// into a chainrule module of the same architecture, in one call.
#include <cstdint>
#include <string>

#include "module.hpp"

namespace chainrule::nn {

/// What load_torch_state_dict does beyond Module::load_state_dict.
struct TorchLoadOptions {
  /// torch's nn.Linear stores weight [out, in], chainrule's Linear/Dense [in, out]: transpose the "weight" of every
  /// Linear (and Dense) in the module as it loads. Turn off for a file whose Linear weights are already [in, out].
  bool transpose_linear = true;
  /// As Module::load_state_dict: every parameter and buffer of the module must be in the file.
  bool strict = true;
  /// Load weights holding NaN or ±inf (refused by default, as Model::load does).
  bool allow_non_finite = false;
};

/// Loads the safetensors file at `path`, written by PyTorch for the same architecture, into `module`.
/// Keys are torch's, which are chainrule's for the same structure: nn.Sequential(nn.Linear(4,3), nn.BatchNorm1d(3),
/// nn.ReLU(), nn.Linear(3,2)) saves "0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
/// "1.num_batches_tracked", "3.weight", "3.bias", the state_dict() names of the chainrule Sequential of Linear,
/// BatchNorm1d, ReLU, Linear. Dtypes as SafetensorsDtypes::Torch: F32, F64; F16 and BF16 converted exactly to
/// float32; I64 and I32 to float64; each then converted to the module's dtype by the copy.
/// BatchNorm's "num_batches_tracked" (an I64 count) is skipped, since chainrule's BatchNorm1d has no such buffer
/// (its momentum is always fixed, never a cumulative average); strict loading does not count it.
/// Every entry is checked before any is copied; on an error the module is untouched. Throws
/// std::runtime_error "<path>: ..." for a defective file (see load_safetensors) or a non-finite value, and
/// std::invalid_argument "<path>: ..." naming the key for a shape that differs ("'0.weight' is [3,4] in the file
/// (torch's [out,in]; [4,3] transposed), [4,5] in the module"), a key the module lacks, or (strict) a key the file
/// lacks.
void load_torch_state_dict(Module& module, const std::string& path, const TorchLoadOptions& options = {});

/// IEEE binary16 (torch.float16) bits → float, exactly: every half value (subnormals, ±0, ±inf, NaN with its
/// payload) is a float32.
float half_to_float(std::uint16_t bits);
/// bfloat16 (torch.bfloat16) bits → float, exactly: a bfloat16 is the high half of a float32.
float bfloat16_to_float(std::uint16_t bits);

}  // namespace chainrule::nn
