# RideShare DBaaS — build, services and tests.
#
#   make services   install (Debian packages, when missing) and start RabbitMQ, ZooKeeper,
#                   PostgreSQL, and wait until they answer (scripts/services.sh)
#   make build      bin/rideshare, a static binary (CGO off: the image is FROM scratch)
#   make test       vet, lint, and every test, against the real services (TESTFLAGS=... adds
#                   flags, e.g. make test TESTFLAGS='-run TestFailover -v')
#   make lint       staticcheck ./... with the pinned staticcheck (STATICCHECK_VERSION), which it
#                   first installs with go install into GOBIN (default ~/go/bin) when that holds
#                   no staticcheck of that version
#   make run        the whole local stack in the foreground (hcl/local.hcl)
#   make image      docker image rideshare:latest from bin/rideshare
#   make images     every image docker-compose.yml runs, with no pull: rideshare:latest and
#                   RabbitMQ, ZooKeeper, PostgreSQL from Debian's packages on a debootstrapped
#                   base (scripts/images.sh; cached: seconds when nothing changed)
#   make bench      rideshare bench on a freshly started stack: the median of RUNS runs of every
#                   figure beside the floor of the same runs (scripts/bench.sh; BENCHFLAGS=...
#                   adds rideshare bench flags, e.g. BENCHFLAGS='-failover 5')
#   make history    time to serve after a long history on a freshly started stack: replacement,
#                   restart, backup and restore, each beside its floor (scripts/history.sh;
#                   ROWS=100000 UPDATES=200000 by default)
#   make faults     the fault suite (test/faults/) in its long form (10 s holds) on a real `rideshare up`:
#                   one fault at a time under load, then the invariants; RUNS times (default 3), each
#                   on a freshly started stack; prints each run's table and the median over the runs
#                   and writes the last to faults-table.md; each run's stack logs are kept under
#                   /tmp/rideshare-faults-logs-* (needs root; pauses and restarts the services)
#   make proto      regenerate the plugin contracts' code from plugins/<kind>/proto/<kind>.proto:
#                   Go (*.pb.go, *_grpc.pb.go, beside the .proto, committed) and the Python
#                   messages of examples/python-runtime; needs protoc (Debian protobuf-compiler,
#                   installed by make services) and installs the pinned Go generators
#   make clean

GO         ?= go
BIN        ?= bin/rideshare
IMAGE      ?= rideshare:latest
CONFIG     ?= hcl/local.hcl
TESTFLAGS  ?=
BENCHFLAGS ?=
RUNS       ?= 3

# staticcheck for make lint, pinned; called by its full path, so PATH does not matter.
STATICCHECK_VERSION ?= v0.8.2
LINTBIN             ?= $(or $(GOBIN),$(HOME)/go/bin)
STATICCHECK         := $(LINTBIN)/staticcheck

# Go lives in /usr/local/go/bin on these machines, which is not always on PATH (CI, sudo).
# Appended last, it is used only when no other go is found first.
export PATH := $(PATH):/usr/local/go/bin

.PHONY: all build services test vet lint run image images bench history faults proto clean

all: build

# Always handed to go build: it knows better than make whether anything changed.
build:
	CGO_ENABLED=0 $(GO) build -o $(BIN) .

services:
	./scripts/services.sh

vet:
	$(GO) vet ./...

# staticcheck -version prints "staticcheck 2026.2.2 (0.8.2)": another version is replaced.
lint:
	@$(STATICCHECK) -version 2>/dev/null | grep -qF '($(STATICCHECK_VERSION:v%=%))' || \
		GOBIN=$(LINTBIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	$(STATICCHECK) ./...

# -p 1: the integration tests share RabbitMQ's fixed queue names and ZooKeeper, so test
# binaries of different packages must not run at the same time. -timeout is per package: the
# longest, test/cluster/ (a 3-node RabbitMQ cluster, a ZooKeeper ensemble and two orchestrators
# in containers, four faults under load), takes about 8 minutes on 2 cores, more on a loaded
# machine. test/compose/ and test/cluster/ need a Docker engine (without one, test/cluster/
# skips saying so).
test: services build lint
	$(GO) vet ./...
	$(GO) test -count=1 -p 1 -timeout 20m $(TESTFLAGS) ./...

run: build services
	./$(BIN) up -config $(CONFIG)

# FROM scratch: no base image can be pulled on these machines, and the binary is static.
image: build
	docker build -t $(IMAGE) -f Dockerfile .

# No registry is reachable here: the service images come from Debian's archive (docs/deploy.md).
images: build
	IMAGE=$(IMAGE) BIN=$(BIN) ./scripts/images.sh

# The benchmarks drive the real stack, so they need the services too. The go test benchmarks
# (go test -run '^$$' -bench . ./internal/bench/...) measure the same on a stack of their own.
bench: build services
	RUNS=$(RUNS) BIN=$(BIN) CONFIG=$(CONFIG) ./scripts/bench.sh $(BENCHFLAGS)

# It pauses and restarts RabbitMQ and ZooKeeper: run nothing else against them meanwhile.
faults: build services
	RIDESHARE_KEEP_STACK=1 $(GO) test -count=$(RUNS) -timeout $$(( $(RUNS) * 30 ))m -run TestFaults -v ./test/faults/ \
		-faults.long -faults.out=$(CURDIR)/faults-table.md
	@cat faults-table.md

history: build services
	BIN=$(BIN) ./scripts/history.sh

# The generators are pinned to match go.mod: protoc-gen-go is google.golang.org/protobuf's own
# version; protoc-gen-go-grpc is versioned apart (v1.6.2 requires grpc <= the one in go.mod).
PROTOC_GEN_GO      ?= v1.36.12
PROTOC_GEN_GO_GRPC ?= v1.6.2
PROTO_KINDS        := runtime storage election
GOBIN              ?= $(shell $(GO) env GOPATH)/bin

proto:
	$(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO)
	$(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC)
	for k in $(PROTO_KINDS); do \
		PATH="$(GOBIN):$$PATH" protoc -I plugins/$$k/proto \
			--go_out=plugins/$$k/proto --go_opt=paths=source_relative \
			--go-grpc_out=plugins/$$k/proto --go-grpc_opt=paths=source_relative \
			plugins/$$k/proto/$$k.proto || exit 1; \
	done
	protoc -I plugins/runtime/proto --python_out=examples/python-runtime plugins/runtime/proto/runtime.proto
	protoc -I examples/python-runtime --python_out=examples/python-runtime \
		examples/python-runtime/health.proto examples/python-runtime/rpc_status.proto

clean:
	rm -rf bin
