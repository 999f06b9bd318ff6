// Writes model_v1.safetensors (a model file of format_version 1, as Model::save wrote it before the Keras layer
// was rebuilt) and model_v1.json (the numbers test_serialize.cpp expects from it). Built once against the library
// of commit 89a565e and run from tests/reference/:
//   g++ -std=c++17 -O1 -I../.. make_model_v1.cpp -L../../build -lchainrule ... && ./a.out
// It is kept so the file's origin is known; the test never rebuilds it (the point is a file from the old code).
#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include <chainrule/nn.hpp>
#include <chainrule/optim.hpp>

using namespace chainrule;

int main() {
  manual_seed(7);
  nn::Model m;
  m.add(nn::make_dense(3, 4, "tanh")).add(std::make_shared<nn::BatchNorm1d>(4)).add(nn::make_dense(4, 2, "softmax"));
  optim::Adam::Options ao;
  ao.lr = 0.05, ao.weight_decay = 0.01, ao.amsgrad = true;
  m.compile(std::make_unique<optim::Adam>(m.parameters(), ao), "sparse_categorical_crossentropy", {"accuracy"});
  m.set_penalty(nn::Penalty::l2(1e-3));
  Tensor x = tensor({{0.5, -1.0, 2.0}, {1.5, 0.25, -0.5}, {-2.0, 1.0, 0.0}, {0.0, -0.75, 1.25}, {1.0, 1.0, 1.0},
                     {-0.5, 0.5, -1.5}});
  Tensor y = tensor(std::vector<double>{0, 1, 1, 0, 1, 0});
  nn::FitOptions fo;
  fo.epochs = 3, fo.batch_size = 4, fo.shuffle = false, fo.verbose = 0;
  m.fit(x, y, fo);
  m.save("model_v1.safetensors");
  auto flat = [](const Tensor& t) {
    std::vector<double> v;
    for (float f : t.to(kFloat32).data<float>()) v.push_back(f);
    return v;
  };
  nlohmann::json j;
  j["x"] = flat(x), j["y"] = flat(y);
  j["predict"] = flat(m.predict(x));
  fo.initial_epoch = 3, fo.epochs = 4;  // one more epoch: the optimizer state must have been restored exactly
  m.fit(x, y, fo);
  j["predict_after_one_more_epoch"] = flat(m.predict(x));
  std::ofstream("model_v1.json") << j.dump(1) << "\n";
}
