# Thin wrapper over CMake. The two set-up commands of the README:
#   make demo   installs dependencies, builds, runs the main job on built-in defaults
#   make test   installs dependencies, builds (normal + ASan/UBSan), runs every test
JOBS ?= $(shell nproc)
BUILD ?= build
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=Release

.PHONY: all deps build build-asan test test-fast bench demo clean format

all: build

deps:
	bash scripts/install-deps.sh

build:
	@test -f $(BUILD)/CMakeCache.txt || cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

build-asan:
	@test -f build-asan/CMakeCache.txt || cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DTR_SANITIZE=ON >/dev/null
	cmake --build build-asan -j $(JOBS)

# Everything: the normal build runs all tests (unit, PyTorch parity, CLI end-to-end);
# the sanitizer build runs the C unit tests again so memory errors fail the suite.
test: deps build build-asan
	cd $(BUILD) && ctest --output-on-failure -j 2 --timeout 900
	cd build-asan && ctest --output-on-failure -j 2 -L unit --timeout 900

test-fast: build
	cd $(BUILD) && ctest --output-on-failure -j 2 -L unit

bench: deps build
	bash bench/run.sh $(BUILD)

demo: deps build
	./$(BUILD)/tinyr1 pipeline --preset default --out runs/demo

clean:
	rm -rf $(BUILD) build-asan

format:
	clang-format -i $$(git ls-files '*.c' '*.h')
