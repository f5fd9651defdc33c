# odbench developer targets. CI runs .ci/run, which calls `go test ./...`.
GO ?= go
BIN := bin/odbench
# The version and VCS revision are stamped into the binary (odbench version,
# and every results file, name the build that measured).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: help build image install test lint fuzz bench bench-engine bench-cluster bench-capacity bench-vs-etcd ci-gate run-quick clean

# Lists the targets. Each shows the first sentence of its comment.
help:
	@awk '/^# / {c = c substr($$0, 3) " "} /^[a-z-]+:/ {sub(":.*", "", $$1); sub(/[.;:] .*/, ".", c); if (c != "") printf "  %-15s %s\n", $$1, c; c = ""} !/^#/ && !/^[a-z-]+:/ {c = ""}' $(MAKEFILE_LIST)

# Builds bin/odbench, its version and commit stamped in.
build:
	$(GO) build -buildvcs=true -ldflags "-X github.com/odbench/odbench/internal/cli.version=$(VERSION)" -o $(BIN) ./cmd/odbench

# Builds the container image, stamped with the version and commit.
image:
	docker build --build-arg VERSION=$(VERSION) --build-arg COMMIT=$$(git rev-parse HEAD) -t odbench:$(VERSION) .

# Puts odbench on the PATH (GOPATH/bin), stamped like build.
install:
	$(GO) install -buildvcs=true -ldflags "-X github.com/odbench/odbench/internal/cli.version=$(VERSION)" ./cmd/odbench

# Runs the tests. CI runs .ci/run: gofmt, vet, these, then -race.
test:
	$(GO) test ./...

# Checks gofmt and go vet.
lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1)
	$(GO) vet ./...

# Fuzzes the results reader for a minute.
fuzz:
	$(GO) test ./internal/metrics -run XXX -fuzz FuzzReadRun -fuzztime 60s

# Go benchmarks of the hot paths (recording, load engine); compare runs with benchstat.
bench:
	$(GO) test ./internal/metrics ./internal/load -run XXX -bench . -benchmem

# The load engine against a trivial loopback server. Server and engine run on
# different cores (taskset); it prints req/s, latency and peak RSS.
bench-engine: build
	$(GO) build -o bin/benchengine ./tools/benchengine
	./bin/benchengine

# The reference node's start-up, failover, RSS and writes. The writes
# are measured beside a bare hashicorp/raft cluster in one process.
bench-cluster: build
	ODBENCH_BIN=$(abspath $(BIN)) $(GO) test ./internal/cluster -run XXX -bench . -benchtime 1x -timeout 20m

# Capacity search against the computed capacity, 1 and 3 nodes.
# It prints the throughput probe's and capacity_rps's ratios to that figure.
bench-capacity: build
	ODBENCH_BIN=$(abspath $(BIN)) $(GO) test ./internal/scenarios -run XXX -bench BenchmarkCapacityGroundTruth -benchtime 1x -timeout 20m -v

# The reference node beside etcd (3 members each, fsync on): writes/s and p99.
bench-vs-etcd: build
	ODBENCH_BIN=$(abspath $(BIN)) $(GO) test ./internal/scenarios -run XXX -bench BenchmarkNodeVsEtcd -benchtime 1x -timeout 30m

# The ci profile as a gate: false alarms over 10 same-build pairs, and a
# planted slowdown (--debug-extra-latency 50us) caught or not, interleaved.
# About an hour on 2 cores.
ci-gate:
	tools/ci-gate.sh 10 50us

# Builds odbench and runs the quick profile.
run-quick: build
	./$(BIN) run --profile quick

# Removes bin/ and results/.
clean:
	rm -rf bin results
