#include <gtest/gtest.h>
#include <future>
#include "engine/engine.h"
using namespace arbitra::engine;
TEST(EngineSmoke, Generates) {
  EngineOptions o; o.modelPath = ARBITRA_TINY_MODEL; o.parallel = 2; o.contextSize = 512; o.threads = 2;
  auto e = Engine::load(o);
  ASSERT_TRUE(e) << e.error().message;
  GenerateParams p; p.messages = {{"user", "hello there"}}; p.temperature = 0; p.maxTokens = 16;
  std::promise<std::string> done; std::string text;
  auto id = (*e)->submit(p, [&](Output out) { text += out.text; if (out.done) done.set_value(text); });
  ASSERT_TRUE(id);
  auto s = done.get_future().get();
  printf("text=[%s] %s\n", s.c_str(), (*e)->info().description.c_str());
}
