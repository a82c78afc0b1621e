# Tessera. The two commands of the quick start:
#   make demo   starts ClickHouse, generates a shop and runs the pipeline into it
#   make test   starts the services and runs every test against them
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
DEMO_CUSTOMERS ?= 50000
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
	set -a && eval "$$($(SERVICES) env)" && set +a && $(GO) test -count=1 -timeout 30m ./...
	# current ClickHouse (26.5, chDB in process): every migration, view and report query
	dir=$$(scripts/chdb.sh) && CGO_ENABLED=1 CGO_LDFLAGS="-L$$dir -Wl,-rpath,$$dir" $(GO) test -count=1 -tags chdb ./sql/chdb

# The demo needs ClickHouse alone (its shop is files).
demo: build
	$(SERVICES) up clickhouse
	bin/tessera generate --customers $(DEMO_CUSTOMERS) --seed 1 --bad-rows 0.01 --out demo-data/shop
	TESSERA_CLICKHOUSE_ADDR=$(CLICKHOUSE) TESSERA_CLICKHOUSE_DATABASE=tessera_demo \
	TESSERA_SOURCE_FILES_DIR=demo-data/shop TESSERA_LOG_FORMAT=text \
	bin/tessera run --as-of 2026-11-01
	TESSERA_CLICKHOUSE_ADDR=$(CLICKHOUSE) TESSERA_CLICKHOUSE_DATABASE=tessera_demo TESSERA_LOG_FORMAT=text \
	bin/tessera export --as-of 2026-11-01 --format csv --out demo-data/export
	TESSERA_CLICKHOUSE_ADDR=$(CLICKHOUSE) TESSERA_CLICKHOUSE_DATABASE=tessera_demo TESSERA_LOG_FORMAT=text \
	bin/tessera report --as-of 2026-11-01 --out demo-data/report.html

# Benchmarks at full size: a million customers (make bench CUSTOMERS=N to scale
# down). BenchmarkPipeline runs the whole pipeline against the services (CRM in
# PostgreSQL, the rest as files; extract, features, train, score, publish,
# export into ClickHouse) and prints each stage's time, rows per second and peak
# memory, then `total`; the figures also go to bench/pipeline-N.json. The others:
# generating the shop (synth), extract's checks and row building at a million
# customers' sizes (canon), the LTV work (model), the feature table from Arrow
# batches (transform), scoring, extract of BENCH_LINES order lines from
# PostgreSQL, extract and features against ClickHouse's own speed on the same
# files, train on samples against the full fit, the bisection into micro-segments
# against one pass of distances (segment), the pipeline as 4 shards run
# one after another with each process's time and peak memory, and whether 4
# pods divide the warehouse's work (extract, features, score, publish: one
# process against the pods, at TESSERA_BENCH_WORK_CUSTOMERS, 100,000) (pipeline).
# TESSERA_BENCH_CACHE=DIR keeps generated inputs between runs.
CUSTOMERS ?= 1000000
BENCH_CUSTOMERS ?= $(CUSTOMERS)
BENCH_LINES ?= 10000000
bench: services
	mkdir -p bench
	TESSERA_BENCH_CUSTOMERS=$(BENCH_CUSTOMERS) TESSERA_BENCH_OUT=$(CURDIR)/bench/pipeline-$(BENCH_CUSTOMERS).json \
		$(GO) test -run '^$$' -bench '^BenchmarkPipeline$$' -benchtime 1x -timeout 60m ./pipeline
	TESSERA_BENCH_CUSTOMERS=$(BENCH_CUSTOMERS) TESSERA_BENCH_LINES=$(BENCH_LINES) $(GO) test -run '^$$' \
		-bench '^Benchmark([^P]|P[^i])' -benchtime 1x -benchmem -timeout 180m ./synth ./canon ./model ./segment ./transform ./pipeline

# Each fuzz target for FUZZTIME (default 60 s); what they find lands in testdata/fuzz.
FUZZTIME ?= 60s
fuzz:
	for t in FuzzCSV FuzzRecordReader FuzzShopify FuzzShopifyCustomers FuzzJSONL FuzzBuilder FuzzDateLayouts FuzzDecimalComma FuzzEncodings; do \
		$(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 10s ./source || exit 1; done
	$(GO) test -run '^$$' -fuzz '^FuzzConfig$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 10s ./config

clean:
	rm -rf bin demo-data tessera-data
