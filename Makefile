# Conveniences for developers; the README's commands are scripts/run.sh and scripts/test.sh.
.PHONY: build run test unit e2e fuzz bench format
build:
	./scripts/build.sh
run:
	./scripts/run.sh
test:
	./scripts/test.sh
unit: build
	ctest --test-dir build --output-on-failure -j 2
e2e: build
	/usr/bin/python3 tests/e2e/run.py --nave build/nave
fuzz:
	./scripts/fuzz.sh 60
format:
	clang-format -i $$(git ls-files '*.cc' '*.h')
