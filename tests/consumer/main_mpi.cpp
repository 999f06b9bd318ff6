// Built (not run: that needs mpirun) when the installed chainrule has the mpi component.
#include <cstdio>

#include <chainrule/nn/distributed.hpp>
#include <chainrule/nn.hpp>

int main() {
  auto group = chainrule::nn::ProcessGroupMPI::world();
  chainrule::nn::FitOptions fo;
  fo.process_group = group;
  std::printf("rank %d of %d\n", group->rank(), group->size());
}
