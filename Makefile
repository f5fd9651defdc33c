# odbench developer targets. CI runs .ci/run, which calls `go test ./...`.
GO ?= go
BIN := bin/odbench
# The version and VCS revision are stamped into the binary (odbench version,
# and every results file, name the build that measured).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: build test lint fuzz bench bench-engine bench-cluster bench-capacity ci-gate run-quick clean

build:
	$(GO) build -buildvcs=true -ldflags "-X github.com/odbench/odbench/internal/cli.version=$(VERSION)" -o $(BIN) ./cmd/odbench

test:
	$(GO) test ./...

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1)
	$(GO) vet ./...

fuzz:
	$(GO) test ./internal/metrics -run XXX -fuzz FuzzReadRun -fuzztime 60s

# Go benchmarks of the hot paths (recording, load engine); compare runs with benchstat.
bench:
	$(GO) test ./internal/metrics ./internal/load -run XXX -bench . -benchmem

# The load engine against a trivial loopback server, server and engine on
# different cores (taskset); prints req/s, latency and peak RSS.
bench-engine: build
	$(GO) build -o bin/benchengine ./tools/benchengine
	./bin/benchengine

# Cluster start-up, failover, idle RSS and KV write throughput of the reference
# node, the writes beside a bare hashicorp/raft cluster in one process.
bench-cluster: build
	ODBENCH_BIN=$(abspath $(BIN)) $(GO) test ./internal/cluster -run XXX -bench . -benchtime 1x -timeout 20m

# The capacity search against the capacity the reference node's flags
# imply, on 1 and 3 nodes: prints the throughput probe's and capacity_rps's
# ratios to it.
bench-capacity: build
	ODBENCH_BIN=$(abspath $(BIN)) $(GO) test ./internal/scenarios -run XXX -bench BenchmarkCapacityGroundTruth -benchtime 1x -timeout 20m -v

# The ci profile as a gate: false alarms over 10 same-build pairs, and a
# planted slowdown (--debug-extra-latency 50us) caught or not, interleaved.
# About an hour on 2 cores.
ci-gate:
	tools/ci-gate.sh 10 50us

run-quick: build
	./$(BIN) run --profile quick

clean:
	rm -rf bin results
