#pragma once
// Helpers shared by the server suites: waiting for a condition without timed assertions,
// and setting environment variables for the length of a test.

#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>

namespace memscope_test {

// Polls `condition` until it holds or `limit` passes (generous: CI machines are slow and
// sanitizers slower). Returns whether it held.
template <class F>
bool wait_until(F condition, std::chrono::seconds limit = std::chrono::seconds(30)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!condition()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
}

// Sets (or with nullptr, unsets) an environment variable, and restores it on destruction.
class ScopedEnv {
  public:
    ScopedEnv(const char* name, const char* value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old;
        if (value != nullptr)
            setenv(name, value, 1);
        else
            unsetenv(name);
    }
    ~ScopedEnv() {
        if (old_)
            setenv(name_, old_->c_str(), 1);
        else
            unsetenv(name_);
    }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

  private:
    const char* name_;
    std::optional<std::string> old_;
};

}  // namespace memscope_test
