# Tessera. The two commands of the quick start:
#   make demo   starts the services, generates a shop and runs the pipeline into ClickHouse
#   make test   starts the services and runs every test against them
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
CUSTOMERS ?= 50000
SERVICES := scripts/services.sh
# Addresses of the services started by $(SERVICES) (see `scripts/services.sh env`).
CLICKHOUSE := 127.0.0.1:19000

.PHONY: build demo test bench services services-down fuzz clean

# The same binary the Dockerfile builds: static, no cgo.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/tessera ./cmd/tessera

services:
	$(SERVICES) up

services-down:
	$(SERVICES) down

test: services
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi
	set -a && eval "$$($(SERVICES) env)" && set +a && $(GO) test -count=1 ./...

demo: services build
	bin/tessera generate --customers $(CUSTOMERS) --seed 1 --bad-rows 0.01 --out demo-data/shop
	TESSERA_CLICKHOUSE_ADDR=$(CLICKHOUSE) TESSERA_CLICKHOUSE_DATABASE=tessera_demo \
	TESSERA_SOURCE_FILES_DIR=demo-data/shop TESSERA_LOG_FORMAT=text \
	bin/tessera run --as-of 2026-11-01
	TESSERA_CLICKHOUSE_ADDR=$(CLICKHOUSE) TESSERA_CLICKHOUSE_DATABASE=tessera_demo TESSERA_LOG_FORMAT=text \
	bin/tessera export --as-of 2026-11-01 --format csv --out demo-data/export
	TESSERA_CLICKHOUSE_ADDR=$(CLICKHOUSE) TESSERA_CLICKHOUSE_DATABASE=tessera_demo TESSERA_LOG_FORMAT=text \
	bin/tessera report --as-of 2026-11-01 --out demo-data/report.html

# Benchmarks at full size: a million customers (BENCH_CUSTOMERS=N to scale down):
# generating the shop (synth), the LTV work on a transactions CSV (model), the
# feature table from in-memory Arrow batches (transform), scoring, and extract
# from PostgreSQL into ClickHouse of BENCH_LINES order lines (jobs).
BENCH_CUSTOMERS ?= 1000000
BENCH_LINES ?= 10000000
bench: services
	TESSERA_BENCH_CUSTOMERS=$(BENCH_CUSTOMERS) TESSERA_BENCH_LINES=$(BENCH_LINES) $(GO) test -run '^$$' -bench . -benchtime 1x -benchmem -timeout 60m ./synth ./model ./transform ./jobs

# Each fuzz target for FUZZTIME (default 60 s).
FUZZTIME ?= 60s
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzCSV -fuzztime $(FUZZTIME) ./source

clean:
	rm -rf bin demo-data tessera-data
